"""Where the model lives across the node's lifecycle, and which device it runs on.

The model is loaded on the CPU at configure (so a bad checkpoint fails the transition before any GPU
memory is taken), moved to the chosen device at activate, and back to the CPU at deactivate with the CUDA
cache emptied, so an inactive node holds no GPU memory (SPEC §7: "GPU memory held while idle" is a known
pain). A CUDA request on a machine where torch sees no GPU falls back to the CPU with a warning, never
silently.
"""
from __future__ import annotations

import gc
from pathlib import Path

import torch

from siamrcnn_ros.model.default_weights import resolve_checkpoint
from siamrcnn_ros.model.siamrcnn import SiamRCNN, build_model, choose_device

RANDOM_WEIGHTS_SEED = 0


class ModelHost:
    """Holds the model and moves it between the CPU and its device."""

    def __init__(self) -> None:
        self._model: SiamRCNN | None = None
        self._device = torch.device('cpu')
        self.device_warning = ''
        self.checkpoint_path: Path | None = None

    @property
    def model(self) -> SiamRCNN:
        if self._model is None:
            raise RuntimeError('no model loaded: configure the node first')
        return self._model

    @property
    def device_text(self) -> str:
        """The device the model runs on when active (``cpu``, ``cuda:0``), ``''`` before loading."""
        if self._model is None:
            return ''
        device = self._device
        if device.type == 'cuda' and device.index is None:
            device = torch.device('cuda', torch.cuda.current_device())
        return str(device)

    def load(self, preset: str, *, checkpoint: str, detector_weights: str, device: str) -> None:
        """Builds the model on the CPU and chooses its device.

        ``checkpoint``: ``''``/``'default'`` = the preset's shipped checkpoint, ``'none'`` = random weights, else a
        file (``default_weights.resolve_checkpoint``); ``checkpoint_path`` then holds the file used (None: random).
        ``detector_weights``: ``''`` = none.
        """
        self.release()
        target, self.device_warning = choose_device(device)
        self.checkpoint_path = resolve_checkpoint(preset, checkpoint)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)  # random weights (no checkpoint) are the same in every run
            self._model = build_model(preset, checkpoint=self.checkpoint_path,
                                      detector_weights=detector_weights or None, device='cpu')
        self._device = target

    def to_device(self) -> None:
        _move(self.model, self._device)

    def to_cpu(self) -> None:
        """Moves the model to the CPU and returns the cached CUDA memory to the driver.

        Call it after dropping the tracker state (templates and features live on the device too). The CUDA
        context itself (a few hundred MB) stays until the process exits; torch cannot release it earlier.
        """
        if self._model is not None:
            _move(self._model, torch.device('cpu'))
        gc.collect()
        _empty_cuda_cache()

    def release(self) -> None:
        """Drops the model."""
        self._model = None
        gc.collect()
        _empty_cuda_cache()


def _move(model: torch.nn.Module, device: torch.device) -> None:
    """``model.to(device)``, plus plain lists of tensors kept on modules: torchvision's ``AnchorGenerator`` holds
    its cell anchors in a list, not in buffers, which ``Module.to`` skips (it moves them lazily on use)."""
    model.to(device)
    for module in model.modules():
        for name, value in list(vars(module).items()):
            if isinstance(value, list) and value and all(isinstance(item, torch.Tensor) for item in value):
                setattr(module, name, [item.to(device) for item in value])


def _empty_cuda_cache() -> None:
    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return
    # cuBLAS keeps its workspace (32 MiB on Hopper) in the caching allocator until told to let it go; torch has
    # no public call for it yet.
    clear_cublas = getattr(torch._C, '_cuda_clearCublasWorkspaces', None)
    if clear_cublas is not None:
        clear_cublas()
    torch.cuda.empty_cache()
