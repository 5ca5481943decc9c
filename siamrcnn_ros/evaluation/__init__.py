"""Benchmark evaluation on NumPy arrays: result files, per-frame measures, the scores of OTB, LaSOT,
GOT-10k, VOT-LT and OxUvA as their public toolkits compute them (SPEC §8), plots and ``siamrcnn-eval``.

Modules by benchmark family: ``overlap`` (IoU, centre errors), ``one_pass`` (OTB/LaSOT curves),
``got10k_metrics`` (AO, SR), ``long_term`` (VOT-LT Pr/Re/F, OxUvA TPR/TNR/MaxGM), ``evaluate``
(result folder x dataset), ``results`` (file formats), ``plots``, ``cli``.
"""
from siamrcnn_ros.evaluation.evaluate import (
    METRICS,
    SequenceEvaluation,
    TrackerEvaluation,
    aggregate,
    evaluate_results_folder,
    evaluate_sequence,
)
from siamrcnn_ros.evaluation.got10k_metrics import Got10kScores, got10k_bound_boxes, got10k_frame_ious, got10k_scores
from siamrcnn_ros.evaluation.long_term import (
    LongTermCurves,
    OxuvaCounts,
    max_geometric_mean,
    oxuva_counts,
    precision_recall_curve,
    vot_lt_curves,
    vot_lt_thresholds,
)
from siamrcnn_ros.evaluation.one_pass import OnePassCurves, average_curves, one_pass_curves
from siamrcnn_ros.evaluation.overlap import center_error, iou_xywh, normalized_center_error, valid_ground_truth
from siamrcnn_ros.evaluation.results import read_results, read_times, write_results

__all__ = [
    'METRICS',
    'Got10kScores',
    'LongTermCurves',
    'OnePassCurves',
    'OxuvaCounts',
    'SequenceEvaluation',
    'TrackerEvaluation',
    'aggregate',
    'average_curves',
    'center_error',
    'evaluate_results_folder',
    'evaluate_sequence',
    'got10k_bound_boxes',
    'got10k_frame_ious',
    'got10k_scores',
    'iou_xywh',
    'max_geometric_mean',
    'normalized_center_error',
    'one_pass_curves',
    'oxuva_counts',
    'precision_recall_curve',
    'read_results',
    'read_times',
    'valid_ground_truth',
    'vot_lt_curves',
    'vot_lt_thresholds',
    'write_results',
]
