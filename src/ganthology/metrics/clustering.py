"""How well unsupervised codes or clusters match true classes: ACC, NMI, ARI.

ACC is the accuracy under the best one-to-one matching of cluster ids to labels (the Hungarian
algorithm, scipy's `linear_sum_assignment`), the measure InfoGAN (section 7.2: "5% error") and
ClusterGAN (table 2) report; NMI and ARI come from scikit-learn.
"""
from __future__ import annotations

import numpy as np


def cluster_accuracy(pred, labels) -> float:
    """Accuracy of cluster ids `pred` against `labels` under the best one-to-one matching (more
    clusters than classes: the unmatched clusters count as errors)."""
    from scipy.optimize import linear_sum_assignment

    pred, labels = np.asarray(pred).astype(int).ravel(), np.asarray(labels).astype(int).ravel()
    if pred.shape != labels.shape:
        raise ValueError(f"{len(pred)} predictions for {len(labels)} labels")
    k = max(pred.max(), labels.max()) + 1
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (pred, labels), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(labels))


def clustering_scores(pred, labels) -> dict[str, float]:
    """{"acc", "nmi", "ari"} of cluster ids against labels."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    pred, labels = np.asarray(pred).ravel(), np.asarray(labels).ravel()
    return {"acc": cluster_accuracy(pred, labels), "nmi": float(normalized_mutual_info_score(labels, pred)),
            "ari": float(adjusted_rand_score(labels, pred))}


def cluster_metrics(pred, labels) -> dict[str, float]:
    """`clustering_scores` under the names the evaluation reports: cluster_acc, nmi, ari (empty
    when the data has no labels)."""
    if labels is None:
        return {}
    s = clustering_scores(pred, labels)
    return {"cluster_acc": s["acc"], "nmi": s["nmi"], "ari": s["ari"]}
