"""Benchmark evaluation on NumPy arrays: result files, per-frame measures, the scores of OTB, LaSOT,
GOT-10k, VOT-LT, OxUvA and DAVIS as their public toolkits compute them (SPEC §8), plots and
``siamrcnn-eval``.

Modules by benchmark family: ``overlap`` (IoU, centre errors), ``one_pass`` (OTB/LaSOT curves),
``got10k_metrics`` (AO, SR), ``long_term`` (VOT-LT Pr/Re/F, OxUvA TPR/TNR/MaxGM), ``evaluate``
(result folder x dataset), ``results`` (file formats), ``plots``, ``cli``. Masks: ``masks`` (J, F,
J_box of one frame), ``davis_metrics`` (mean/recall/decay, mask result folder x dataset),
``mask_results`` (DAVIS result PNGs), ``mask_ground_truth`` (DAVIS and synthetic-world masks).
"""
from siamrcnn_ros.evaluation.davis_metrics import (
    FrameStatistics,
    MaskEvaluation,
    ObjectEvaluation,
    evaluate_mask_folder,
    evaluate_mask_sequence,
    frame_statistics,
)
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
from siamrcnn_ros.evaluation.mask_ground_truth import MaskSequence, list_mask_sequences
from siamrcnn_ros.evaluation.mask_results import read_mask_result, write_mask_result, write_mask_results
from siamrcnn_ros.evaluation.masks import box_similarity, contour_accuracy, region_similarity
from siamrcnn_ros.evaluation.one_pass import OnePassCurves, average_curves, one_pass_curves
from siamrcnn_ros.evaluation.overlap import center_error, iou_xywh, normalized_center_error, valid_ground_truth
from siamrcnn_ros.evaluation.results import read_results, read_times, write_results

__all__ = [
    'METRICS',
    'FrameStatistics',
    'Got10kScores',
    'LongTermCurves',
    'MaskEvaluation',
    'MaskSequence',
    'ObjectEvaluation',
    'OnePassCurves',
    'OxuvaCounts',
    'SequenceEvaluation',
    'TrackerEvaluation',
    'aggregate',
    'average_curves',
    'box_similarity',
    'center_error',
    'contour_accuracy',
    'evaluate_mask_folder',
    'evaluate_mask_sequence',
    'evaluate_results_folder',
    'evaluate_sequence',
    'frame_statistics',
    'got10k_bound_boxes',
    'got10k_frame_ious',
    'got10k_scores',
    'iou_xywh',
    'list_mask_sequences',
    'max_geometric_mean',
    'normalized_center_error',
    'one_pass_curves',
    'oxuva_counts',
    'precision_recall_curve',
    'read_mask_result',
    'read_results',
    'read_times',
    'region_similarity',
    'valid_ground_truth',
    'vot_lt_curves',
    'vot_lt_thresholds',
    'write_mask_result',
    'write_mask_results',
    'write_results',
]
