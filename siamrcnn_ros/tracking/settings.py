"""Settings of the tracking components: frozen dataclasses whose defaults are the reference values.

The values are the ones the paper tuned once for all benchmarks (SPEC §3; paper §3.3): they are the
only place where a default lives, and each field's range sits beside it (``settings_tree.setting``), the one
statement the checks here and the node's ROS parameter descriptors are made from. Presets and ROS
parameters build instances of these classes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from siamrcnn_ros.settings_tree import check_settings, setting

CONFIDENCES = ('tracklet', 'frame')


@dataclass(frozen=True)
class TDPASettings:
    """Parameters of the Tracklet Dynamic Programming Algorithm (paper §3.3, Alg. 1, Eq. 1-2).

    Attributes:
        alpha: a detection extends a tracklet only if its best pair score ``s1`` is strictly above
            ``alpha`` (Alg. 1, line 13). Pair scores are probabilities in [0, 1].
        beta: ambiguity margin: the extension also needs ``s2 <= s1 - beta`` and ``s3 <= s1 - beta``
            (Alg. 1, line 13). Must be > 0: with a positive margin no two detections can extend the
            same tracklet, which keeps "one detection per frame" true without a tie-break.
        w_ff: weight of ``ff_score`` in the unary score (Eq. 2); ``ff_tracklet_score`` gets ``1 - w_ff``.
            Also the weight of the presence confidence (SPEC §3, step 8).
        w_loc: weight of the location score between consecutive tracklets of a track (Eq. 1).
        max_gap: maximum temporal gap, in frames, between a tracklet ``b`` and a successor ``a`` in a
            track: ``b`` may precede ``a`` iff ``1 <= start(a) - end(b) <= max_gap``, where ``end`` is
            the frame of the last detection (a tracklet that starts right after ``b`` ends has gap 1).
        ff_min_score: the first-frame tracklet ``a_ff`` is extended only by a detection whose
            ``ff_score`` is at least this; a detection that would extend it with a lower score starts a
            new tracklet instead and ``a_ff`` ends. 0 (the default) is the paper's rule, which extends
            ``a_ff`` like any other tracklet. Not in the paper: every track starts with the whole of
            ``a_ff``, so an ``a_ff`` carried onto another object by one wrong pair score (a neighbour
            that looks alike) takes every track with it, for as long as that object stays in view,
            with confidence 1; this gate ends ``a_ff`` as soon as its detections stop looking like the
            given box.
        unary_offset: subtracted from every detection's unary term (Eq. 2), in score units: a detection
            scoring below it lowers the θ of every track through it, so the best track skips it (the
            object is reported absent there) instead of collecting it. 0 (the default) is the paper's
            Eq. 2, where every detection adds to θ and a track gains from a background patch that
            scores 0.4 in every frame over a target that scores 0.7 in half of them. Not in the paper.
        rival_weight: weight of the frame's best *other* detection in every detection's unary term: each
            term of Eq. 2 also loses ``rival_weight`` times the largest ``w_ff * ff_score + (1 - w_ff) *
            ff_tracklet_score`` among the other detections of the same frame (0 when there is none). At
            1 a detection adds its lead over the runner-up when it scores highest and its deficit to the
            leader otherwise, so a tracklet gains only while it out-scores everything else in view: a
            look-alike that the target outranks loses θ instead of collecting it. 0 (the default) is the
            paper's Eq. 2. Not in the paper.
        gamma: the spatial gate of the pair scores (SPEC §2, "third stage"; Alg. 1, line 6): a detection and a
            reference (a tracklet's last detection) whose normalised L-infinity box distance (fractions of the
            image size) is ``>= gamma`` are not scored (−inf), so they cannot extend that tracklet.
        confidence: the presence confidence of a present result: ``'tracklet'`` (the paper's, SPEC §3 step 8:
            ``w_ff`` times the largest ``ff_score`` of the selected tracklet plus ``1 - w_ff`` times its largest
            ``ff_tracklet_score``) or ``'frame'`` (ours: the same mix of the scores of its detection in this
            frame). The paper's maxima stay high for as long as a once-good tracklet lives, also on a
            look-alike; this frame's scores fall when it stops looking like the target.
    """

    alpha: float = setting(0.3, low=0.0, high=1.0)  # pair scores are probabilities
    beta: float = setting(0.3, low=0.0, high=1.0, low_open=True)
    w_ff: float = setting(0.1, low=0.0, high=1.0)
    w_loc: float = setting(7.0, low=0.0, high=100.0)
    max_gap: int = setting(1500, low=1, high=1_000_000)  # frames
    ff_min_score: float = setting(0.0, low=0.0, high=1.0)
    unary_offset: float = setting(0.0, low=0.0, high=1.0)
    rival_weight: float = setting(0.0, low=0.0, high=1.0)
    gamma: float = setting(0.06, low=0.0, high=math.inf, low_open=True)  # fraction of the image size; inf: no gate
    confidence: str = setting('tracklet', choices=CONFIDENCES)

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class ShortTermSettings:
    """Parameters of the "short-term" selection variant (SPEC §3, Variants; paper Tab. 7).

    The paper describes the variant only in words (average of the re-detection scores against the
    first-frame template and against the previous prediction, with a strong spatial prior around
    the previous box); these numbers are our choice, not tuned on VOT yet.

    Attributes:
        prior_sigma: width of the Gaussian spatial prior, in units of the normalised L-infinity box
            distance of SPEC §2 (fractions of the image size): a detection at distance ``d`` from the
            previous box has its score multiplied by ``exp(-d**2 / (2 * prior_sigma**2))``.
        max_distance: detections farther than this (same units) from the previous box are never
            selected.
    """

    prior_sigma: float = setting(0.05, low=0.0, high=10.0, low_open=True)
    max_distance: float = setting(0.25, low=0.0, high=math.inf, low_open=True)

    def __post_init__(self) -> None:
        check_settings(self)
