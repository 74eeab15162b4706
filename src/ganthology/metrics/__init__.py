"""Evaluators (feature networks we train and check ourselves) and the metrics computed with them.

Every number names the evaluator that produced it, e.g. `fd_mnist-lenet`, never a bare "FID".
"""
from .evaluators import EVALUATORS, Evaluator, evaluator_path, load_evaluator, train_evaluator
from .frechet import frechet_distance, gaussian_stats
from .scores import class_coverage, conditional_accuracy, inception_score

__all__ = ["EVALUATORS", "Evaluator", "class_coverage", "conditional_accuracy", "evaluator_path",
           "frechet_distance", "gaussian_stats", "inception_score", "load_evaluator", "train_evaluator"]
