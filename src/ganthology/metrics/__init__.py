"""Evaluators (feature networks we train and check ourselves, or the standard Inception-v3 when
its weights are given) and the metrics computed with them.

Every number names the evaluator that produced it, e.g. `fd_mnist-lenet`, never a bare "FID".
"""
from .clustering import cluster_accuracy, cluster_metrics, clustering_scores
from .distances import frechet_distance, gaussian_stats, kernel_distance, precision_recall
from .evaluators import EVALUATORS, Evaluator, evaluator_path, load_evaluator, train_evaluator
from .scores import class_coverage, conditional_accuracy, inception_score, psnr_ssim

__all__ = ["EVALUATORS", "Evaluator", "class_coverage", "cluster_accuracy", "cluster_metrics", "clustering_scores", "conditional_accuracy", "evaluator_path",
           "frechet_distance", "gaussian_stats", "inception_score", "kernel_distance", "load_evaluator",
           "precision_recall", "psnr_ssim", "train_evaluator"]
