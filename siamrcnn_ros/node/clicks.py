"""Click-to-track: a clicked point -> a pixel of the camera image (pure functions, plus an optional TF lookup).

Two sources (SPEC §7): rqt_image_view's "publish click location" sends an unstamped
``geometry_msgs/Point`` already in pixels on ``<image topic>_mouse_left``; RViz's Publish Point sends a
3-D ``geometry_msgs/PointStamped`` on ``/clicked_point`` in the fixed frame of its 3-D view. The 3-D point
is brought into the camera's optical frame (REP 103: z forward, x right, y down) through TF when tf2 is
installed, then projected with the pinhole model of ``camera_info`` (the ``P`` matrix, as image_geometry
does; ``K`` when ``P`` is unset). Lens distortion is ignored: exact for rectified images, a few pixels
off near the border of raw ones, which is fine for choosing an object.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


class InvalidClickError(ValueError):
    """A click that gives no usable pixel; ``kind`` is the diagnostics key ``'click'``."""

    kind = 'click'


def camera_matrix(camera_info: Any) -> np.ndarray:
    """``[3, 4]`` float64 projection matrix of a ``sensor_msgs/CameraInfo``: ``P``, or ``[K | 0]`` if ``P`` is unset.

    Raises:
        InvalidClickError: neither ``P`` nor ``K`` has a positive focal length (an empty CameraInfo).
    """
    p = np.asarray(camera_info.p, dtype=np.float64).reshape(3, 4)  # [3, 4]
    if p[0, 0] > 0 and p[1, 1] > 0 and np.isfinite(p).all():
        return p
    k = np.asarray(camera_info.k, dtype=np.float64).reshape(3, 3)  # [3, 3]
    if k[0, 0] > 0 and k[1, 1] > 0 and np.isfinite(k).all():
        return np.hstack([k, np.zeros((3, 1))])
    raise InvalidClickError('camera_info has no valid P or K matrix (focal lengths are zero): cannot project '
                            'the clicked 3-D point to a pixel')


def project_to_pixel(point: tuple[float, float, float], projection: np.ndarray) -> tuple[float, float]:
    """A 3-D point in the camera's optical frame (metres) -> ``(u, v)`` pixel coordinates.

    Args:
        point: ``(x, y, z)`` in the optical frame: z forward, x right, y down.
        projection: ``[3, 4]`` matrix from ``camera_matrix``.

    Raises:
        InvalidClickError: a non-finite coordinate, or a point not in front of the camera (``z <= 0``).
    """
    x, y, z = (float(v) for v in point)
    if not all(math.isfinite(v) for v in (x, y, z)):
        raise InvalidClickError(f'clicked point ({x}, {y}, {z}) has a NaN or infinite coordinate')
    if z <= 0:
        raise InvalidClickError(f'clicked point ({x:.3f}, {y:.3f}, {z:.3f}) m is not in front of the camera '
                                f'(z <= 0 in the optical frame)')
    u, v, w = projection @ np.array([x, y, z, 1.0])
    return float(u / w), float(v / w)


def check_pixel(u: float, v: float, image_size: tuple[int, int]) -> tuple[float, float]:
    """Returns ``(u, v)`` if it lies inside an image of ``(height, width)`` pixels; ``InvalidClickError`` otherwise."""
    height, width = image_size
    if not (math.isfinite(u) and math.isfinite(v) and 0 <= u < width and 0 <= v < height):
        raise InvalidClickError(f'click at pixel ({u:.1f}, {v:.1f}) is outside the {width}x{height} image')
    return float(u), float(v)


def apply_transform(translation: tuple[float, float, float], rotation_xyzw: tuple[float, float, float, float],
                    point: tuple[float, float, float]) -> tuple[float, float, float]:
    """``R(q) p + t``: a point moved by a ``geometry_msgs/Transform`` (unit quaternion ``x, y, z, w``)."""
    qx, qy, qz, qw = (float(v) for v in rotation_xyzw)
    norm = math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw)
    if not norm > 0 or not math.isfinite(norm):
        raise InvalidClickError(f'transform has an invalid rotation quaternion {rotation_xyzw}')
    qx, qy, qz, qw = qx / norm, qy / norm, qz / norm, qw / norm
    rotation = np.array([  # [3, 3] rotation matrix of the unit quaternion
        [1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw)],
        [2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw)],
        [2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy)],
    ])
    moved = rotation @ np.asarray(point, dtype=np.float64) + np.asarray(translation, dtype=np.float64)
    return float(moved[0]), float(moved[1]), float(moved[2])


def clicked_point_to_pixel(point: tuple[float, float, float], point_frame: str, camera_info: Any,
                           transformer: PointTransformer | None) -> tuple[float, float]:
    """A /clicked_point (``point`` in metres, in ``point_frame``) -> ``(u, v)`` pixels of the camera of ``camera_info``.

    A point in the camera's frame (``camera_info.header.frame_id``, or an empty frame id) is projected as it is;
    any other frame goes through ``transformer`` (TF), which must be available.

    Raises:
        InvalidClickError: no TF to move the point, no transform, a point behind the camera, an empty CameraInfo.
    """
    camera_frame = camera_info.header.frame_id
    if point_frame and point_frame != camera_frame:
        if transformer is None:
            raise InvalidClickError(f'clicked point is in frame {point_frame!r}, not the camera frame '
                                    f'{camera_frame!r}, and no TF listener exists')
        point = transformer.to_frame(point, point_frame, camera_frame)
    return project_to_pixel(point, camera_matrix(camera_info))


class PointTransformer:
    """Moves clicked points into the camera frame through TF, when tf2 is installed (else ``available`` is false).

    Args:
        node: the rclpy node whose TF listener fills the buffer.
    """

    def __init__(self, node: Any) -> None:
        try:
            from tf2_ros import Buffer, TransformException, TransformListener
        except ImportError:
            self._buffer = None
            self._listener = None
            return
        self._lookup_errors = TransformException
        self._buffer = Buffer()
        self._listener = TransformListener(self._buffer, node, spin_thread=False)

    @property
    def available(self) -> bool:
        return self._buffer is not None

    def to_frame(self, point: tuple[float, float, float], source_frame: str,
                 target_frame: str) -> tuple[float, float, float]:
        """``point`` (in ``source_frame``) expressed in ``target_frame``, with the latest transform.

        The latest transform, not the one at the point's stamp: RViz stamps clicks with wall-clock time,
        which under ``use_sim_time`` matches no transform in the buffer (issue 5).

        Raises:
            InvalidClickError: tf2 is not installed, or the transform is unknown.
        """
        if self._buffer is None:
            raise InvalidClickError(f'clicked point is in frame {source_frame!r}, not the camera frame '
                                    f'{target_frame!r}, and tf2 is not installed to transform it')
        from rclpy.time import Time

        try:
            stamped = self._buffer.lookup_transform(target_frame, source_frame, Time())
        except self._lookup_errors as error:  # lookup, connectivity, extrapolation
            raise InvalidClickError(f'no transform from {source_frame!r} to {target_frame!r}: {error}') from error
        t, q = stamped.transform.translation, stamped.transform.rotation
        return apply_transform((t.x, t.y, t.z), (q.x, q.y, q.z, q.w), point)
