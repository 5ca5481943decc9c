"""Box crops in and masks out (SPEC §5): image pixels <-> the network's square crop.

Coordinates are continuous xyxy pixels of the original image (``siamrcnn_ros.boxes``): pixel
``(col, row)`` covers ``[col, col + 1) x [row, row + 1)`` and its centre is ``(col + 0.5, row + 0.5)``.
A crop window ``[x0, y0, x1, y1]`` is resampled to ``S x S`` crop pixels, crop pixel ``j`` covering
``[x0 + j w / S, x0 + (j + 1) w / S)``; ``paste_masks`` inverts that mapping exactly.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the usual name)
from torch import Tensor
from torchvision.ops import roi_align

from siamrcnn_ros.box2seg.network import IMAGE_MEAN, IMAGE_STD


def check_boxes(boxes: Tensor | np.ndarray, what: str = 'boxes') -> Tensor:
    """``boxes`` as a float32 ``[N, 4]`` tensor, refusing what cannot be cropped.

    Raises:
        ValueError: not ``[N, 4]``, a non-finite value, or a box without positive width and height
            (the message names the first offending row).
    """
    tensor = _as_tensor(boxes).float()
    if tensor.ndim != 2 or tensor.shape[1] != 4:
        raise ValueError(f'{what} must be [N, 4] xyxy pixels, got shape {tuple(tensor.shape)}')
    bad = ~torch.isfinite(tensor).all(dim=1) | (tensor[:, 2] <= tensor[:, 0]) | (tensor[:, 3] <= tensor[:, 1])
    if bad.any():
        row = int(torch.nonzero(bad)[0])
        raise ValueError(f'{what} need finite xyxy with x1 > x0 and y1 > y0; row {row} is {tensor[row].tolist()}')
    return tensor


def crop_windows(boxes: Tensor | np.ndarray, context: float) -> Tensor:
    """The square crop window of each box.

    The box grows by ``context`` times its width on the left and on the right and by ``context`` times
    its height at the top and at the bottom; the shorter side of that window is then widened around
    the same centre to a square, so resizing it to ``S x S`` does not distort the object. Windows may
    reach outside the image (those parts crop as the mean colour).

    Args:
        boxes: ``[N, 4]`` xyxy pixels with positive width and height.
        context: margin per side as a fraction of the box's width / height (``Box2SegConfig.context``).

    Returns:
        ``[N, 4]`` float32 xyxy windows, pixels of the same image.
    """
    boxes = check_boxes(boxes)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2  # [N, 2]
    side = ((boxes[:, 2:] - boxes[:, :2]) * (1 + 2 * context)).amax(dim=1, keepdim=True)  # [N, 1]
    return torch.cat([centre - side / 2, centre + side / 2], dim=1)


def normalise_image(image: Tensor | np.ndarray, device: torch.device | str = 'cpu') -> Tensor:
    """An ``[H, W, 3]`` uint8 RGB image as the network sees it: ``[1, 3, H, W]`` float32, normalised.

    Raises:
        ValueError: not ``[H, W, 3]`` uint8 with H, W >= 1.
    """
    tensor = _as_tensor(image)
    if tensor.ndim != 3 or tensor.shape[2] != 3 or tensor.dtype != torch.uint8 or 0 in tensor.shape:
        raise ValueError(f'image must be [H, W, 3] uint8 RGB, got shape {tuple(tensor.shape)} and dtype {tensor.dtype}')
    tensor = tensor.to(device).permute(2, 0, 1).unsqueeze(0).float()  # [1, 3, H, W]
    mean = torch.tensor(IMAGE_MEAN, device=tensor.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD, device=tensor.device).view(1, 3, 1, 1)
    return (tensor - mean) / std


def resample_windows(planes: Tensor, windows: Tensor, size: int) -> Tensor:
    """Crop and resize every window of one image (or mask) in one batched ``roi_align``.

    Args:
        planes: ``[1, C, H, W]`` float image planes (``normalise_image``, or a mask as float).
        windows: ``[N, 4]`` xyxy pixels (``crop_windows``).
        size: crop side S, pixels.

    Returns:
        ``[N, C, S, S]`` float: each output pixel averages 2 x 2 bilinear samples of its part of the
        window (``aligned=True``: pixel centres at +0.5); 0 outside the image.
    """
    if planes.ndim != 4 or planes.shape[0] != 1:
        raise ValueError(f'planes must be [1, C, H, W], got shape {tuple(planes.shape)}')
    rois = torch.cat([windows.new_zeros((len(windows), 1)), windows], dim=1).to(planes)  # [N, 5]
    return roi_align(planes, rois, output_size=size, spatial_scale=1.0, sampling_ratio=2, aligned=True)


def crop_images(image: Tensor | np.ndarray, windows: Tensor | np.ndarray, size: int) -> Tensor:
    """The normalised RGB crops of an image's windows.

    Args:
        image: ``[H, W, 3]`` uint8 RGB (NumPy or tensor; a tensor's device is kept).
        windows: ``[N, 4]`` xyxy pixels (``crop_windows``).
        size: crop side S, pixels.

    Returns:
        ``[N, 3, S, S]`` float32, normalised with ``IMAGE_MEAN`` / ``IMAGE_STD`` (0 outside the image).
    """
    planes = normalise_image(image, image.device if isinstance(image, Tensor) else 'cpu')
    return resample_windows(planes, torch.as_tensor(windows, dtype=torch.float32), size)


def box_channel(boxes: Tensor, windows: Tensor, size: int) -> Tensor:
    """``[N, 1, S, S]`` float32: 1 at crop pixels whose centre lies inside the box, else 0.

    Args:
        boxes: ``[N, 4]`` xyxy pixels of the image.
        windows: ``[N, 4]`` their crop windows.
        size: crop side S.
    """
    scale = size / (windows[:, 2:] - windows[:, :2])  # [N, 2] crop pixels per image pixel
    low = (boxes[:, :2] - windows[:, :2]) * scale  # [N, 2] box corners in crop pixels
    high = (boxes[:, 2:] - windows[:, :2]) * scale
    centres = torch.arange(size, device=boxes.device, dtype=torch.float32) + 0.5  # [S]
    inside_x = (centres >= low[:, :1]) & (centres < high[:, :1])  # [N, S]
    inside_y = (centres >= low[:, 1:]) & (centres < high[:, 1:])  # [N, S]
    return (inside_y[:, :, None] & inside_x[:, None, :]).unsqueeze(1).float()  # [N, 1, S, S]


def network_crops(image: Tensor, boxes: Tensor, windows: Tensor, size: int) -> Tensor:
    """The network input of each box: ``[N, 4, S, S]`` = the normalised RGB crop and the box channel.

    Args:
        image: ``[1, 3, H, W]`` normalised image (``normalise_image``).
        boxes: ``[N, 4]`` xyxy pixels.
        windows: ``[N, 4]`` their crop windows (``crop_windows``).
        size: crop side S.
    """
    boxes, windows = boxes.to(image.device), windows.to(image.device)
    return torch.cat([resample_windows(image, windows, size), box_channel(boxes, windows, size)], dim=1)


def paste_masks(probabilities: Tensor, windows: Tensor, image_size: tuple[int, int]) -> Tensor:
    """Map crop masks back onto the image: the inverse of the crop mapping, bilinear.

    Each image pixel whose centre lies in a window takes the crop's value at that point (crop
    coordinates from the window, ``grid_sample`` with ``align_corners=False``, the convention
    ``crop_images`` uses); pixels outside the window are 0. Only the part of the image a window
    covers is sampled, one window at a time.

    Args:
        probabilities: ``[N, S, S]`` float values in crop pixels (probabilities or logits).
        windows: ``[N, 4]`` xyxy pixels, the windows the crops came from.
        image_size: ``(H, W)`` of the image, pixels.

    Returns:
        ``[N, H, W]`` float32 on ``probabilities``' device.
    """
    if probabilities.ndim != 3 or probabilities.shape[1] != probabilities.shape[2]:
        raise ValueError(f'probabilities must be [N, S, S], got shape {tuple(probabilities.shape)}')
    if windows.shape != (len(probabilities), 4):
        raise ValueError(f'windows must be [{len(probabilities)}, 4], got shape {tuple(windows.shape)}')
    height, width = (int(v) for v in image_size)
    device = probabilities.device
    out = torch.zeros((len(probabilities), height, width), dtype=torch.float32, device=device)
    for index, window in enumerate(windows.tolist()):
        x0, y0, x1, y1 = window
        # Pixels whose centre (c + 0.5) lies in [x0, x1): c in [ceil(x0 - 0.5), ceil(x1 - 0.5)).
        col0, col1 = max(0, int(np.ceil(x0 - 0.5))), min(width, int(np.ceil(x1 - 0.5)))
        row0, row1 = max(0, int(np.ceil(y0 - 0.5))), min(height, int(np.ceil(y1 - 0.5)))
        if col1 <= col0 or row1 <= row0:
            continue
        u = (torch.arange(col0, col1, device=device, dtype=torch.float32) + 0.5 - x0) / (x1 - x0) * 2 - 1  # [w]
        v = (torch.arange(row0, row1, device=device, dtype=torch.float32) + 0.5 - y0) / (y1 - y0) * 2 - 1  # [h]
        grid = torch.stack(torch.meshgrid(u, v, indexing='xy'), dim=-1).unsqueeze(0)  # [1, h, w, 2] as (x, y)
        crop = probabilities[index].float()[None, None]  # [1, 1, S, S]
        sampled = F.grid_sample(crop, grid, mode='bilinear', padding_mode='border', align_corners=False)
        out[index, row0:row1, col0:col1] = sampled[0, 0]
    return out


def _as_tensor(values: Tensor | np.ndarray) -> Tensor:
    """A tensor view of an array (a copy when it is read-only: torch cannot share read-only memory)."""
    if isinstance(values, Tensor):
        return values
    array = np.asarray(values)
    return torch.from_numpy(array if array.flags.writeable else array.copy())
