"""A frozen VGG19 feature network for perceptual (content) losses.

SRGAN's content loss (Ledig et al. 2017, section 2.2.1, eq. 5) compares images by the feature maps
of a VGG19 pre-trained on ImageNet: phi_5,4, the activations after the ReLU of the fourth
convolution of the fifth block ("VGG54"), which is `torchvision.models.vgg19().features[:36]`.
ESRGAN (Wang et al. 2018, section 3.3) takes the same layer *before* its ReLU: `features[:35]`.
The cut is a parameter for that reason. (The PyTorch-GAN SRGAN script cut at `features[:18]`,
relu3_4, not the paper's layer.)

The network is built with torchvision's own code (`vgg19(weights=None)` then `load_state_dict`)
from torchvision's ImageNet weights `vgg19-dcbb9e9d.pth`, found (in this order) at a path the user
gives, in torch's weight cache (`torch.hub.get_dir()/checkpoints`), or downloaded there by
torchvision unless downloads are off (GANTHOLOGY_OFFLINE=1). With none of those, a clearly labelled
fallback is used, a randomly initialised VGG19 from a fixed seed (its convolutions drawn with fan-in
scaling, so that its deep features keep their size), with one warning saying how to provide the
weights. Random features are not ImageNet's: the fallback lets a run proceed offline, it does not
reproduce the paper's perceptual loss. `resolve_vgg_weights` returns what was chosen
("imagenet:<path>" or "random-init fallback") so that a run's config records it, and a resumed run
rebuilds the same net.

`VGGFeatures` keeps the VGG out of its owner's module tree: it is in no `state_dict()` (so in no
checkpoint or export), in no `parameters()` (so in no optimizer), and its weights never need
gradients; but it follows `.to(device)`, `.double()` and `channels_last` like any submodule, and
gradients flow through it to its input (the generator).
"""
from __future__ import annotations

import copy
import functools
import warnings
from pathlib import Path

import torch
from torch import nn

from ..errors import GanthologyError

VGG19_FILE = "vgg19-dcbb9e9d.pth"  # torchvision's VGG19_Weights.IMAGENET1K_V1
RELU5_4 = 36  # features[:36] ends with the ReLU after conv5_4: SRGAN's phi_5,4 (VGG54)
CONV5_4 = 35  # features[:35] ends with conv5_4 itself, before its ReLU: ESRGAN's choice
FALLBACK = "random-init fallback"
FALLBACK_SEED = 0  # the random VGG19 of the fallback: the same network for every run and resume
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's normalisation of ImageNet inputs
IMAGENET_STD = (0.229, 0.224, 0.225)


def cached_vgg19_path() -> Path:
    """Where torch (and torchvision's download) keeps the VGG19 weights: $TORCH_HOME/hub/checkpoints."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


def resolve_vgg_weights(spec: str) -> str:
    """What a `vgg_weights` setting means, as a run records it: "auto" (the weight cache, else a
    download unless offline, else the fallback with a warning), a path to a VGG19 state dict, or an
    already resolved "imagenet:<path>" / "random-init fallback" (a resumed or loaded run)."""
    if spec == FALLBACK or spec.startswith("imagenet:"):
        return spec
    if spec in ("", "auto"):
        cached = cached_vgg19_path()
        if cached.is_file():
            return f"imagenet:{cached}"
        from ..data.core import downloads_allowed

        if downloads_allowed():
            try:
                from torchvision.models import VGG19_Weights

                VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=True)  # torchvision's download, to `cached`
                if cached.is_file():
                    return f"imagenet:{cached}"
            except Exception:  # no network: fall back below, with the warning
                pass
        warnings.warn(f"VGG19 ImageNet weights not found, so the perceptual loss uses a randomly initialised, "
                      f"frozen VGG19 (seed {FALLBACK_SEED}); put torchvision's {VGG19_FILE} in {cached.parent} "
                      f"or pass --vgg-weights FILE.", stacklevel=2)
        return FALLBACK
    path = Path(spec).expanduser()
    if not path.is_file():
        raise GanthologyError(f"--vgg-weights {spec}: no such file; give torchvision's {VGG19_FILE} (a VGG19 "
                              "state dict) or 'auto'.")
    return f"imagenet:{path.resolve()}"


@functools.lru_cache(maxsize=2)
def _vgg19_features(weights: str) -> nn.Sequential:
    """All of VGG19's `features` on the CPU, for a resolved `weights`; cached (builds take a second)."""
    from torchvision.models import vgg19

    if weights == FALLBACK:
        with torch.random.fork_rng(devices=[]):  # a fixed seed that leaves the caller's RNG alone
            torch.manual_seed(FALLBACK_SEED)
            features = vgg19(weights=None).features
            # torchvision draws the convolutions with He et al.'s fan-out scaling (right for training,
            # where gradients flow back); untrained, that shrinks the activations about 12-fold by
            # relu5_4 (mean |phi| 0.04 on photo_sr) and the content loss with them, to 1e-5 beside
            # the 1e-3 adversarial term. Fan-in scaling keeps their size through the 16 layers (0.47).
            for m in features:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            return features
    path = Path(weights.removeprefix("imagenet:"))
    if not path.is_file():
        raise GanthologyError(f"the VGG19 weights {path} that this run was set up with are missing; put the "
                              f"file back or start a new run with --vgg-weights FILE.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise GanthologyError(f"cannot read {path} as a VGG19 state dict ({type(e).__name__}); give "
                              f"torchvision's {VGG19_FILE}.") from None
    with torch.device("meta"):  # torchvision's code, without initialising 143M weights it then overwrites
        vgg = vgg19(weights=None)
    # torchvision's file holds the classifier too; a file of the `features.*` entries alone will do
    feats = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    try:
        vgg.features.load_state_dict(feats, assign=True)
    except RuntimeError:
        raise GanthologyError(f"{path} is not a VGG19 state dict (its features.* entries do not fit "
                              f"torchvision's vgg19); give torchvision's {VGG19_FILE}.") from None
    return vgg.features


class VGGFeatures(nn.Module):
    """(B, C, H, W) images in [-1, 1] (C = 1 or 3) -> VGG19 `features[:cut]` maps, with the ImageNet
    input normalisation: [-1, 1] -> [0, 1] -> (x - mean) / std. The network is built on first use."""

    def __init__(self, weights: str, cut: int = RELU5_4):
        super().__init__()
        self.weights, self.cut = weights, cut
        # non-persistent: they follow .to() and stay out of state_dict(), like the network
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.__dict__["_net"] = None  # outside the module tree: not a submodule, so not a parameter

    @property
    def net(self) -> nn.Sequential:
        if self.__dict__["_net"] is None:
            net = copy.deepcopy(_vgg19_features(self.weights)[: self.cut]).eval()
            for p in net.parameters():
                p.requires_grad_(False)
            self.__dict__["_net"] = net.to(self.mean.device, self.mean.dtype)
        return self.__dict__["_net"]

    def _apply(self, fn, recurse=True):
        # what .to(), .cuda(), .double() and channels_last call: move the hidden network with us
        super()._apply(fn, recurse)
        if self.__dict__["_net"] is not None:
            self.__dict__["_net"]._apply(fn, recurse)
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        return self  # the VGG stays in eval mode: it is a fixed measuring instrument

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:  # grey images: the same value in R, G and B
            x = x.expand(-1, 3, -1, -1)
        x = ((x + 1) / 2 - self.mean) / self.std
        return self.net(x)  # (B, 3, H, W) -> (B, 512, H/16, W/16) at relu5_4

    def extra_repr(self) -> str:
        return f"vgg19.features[:{self.cut}], weights={self.weights!r} (frozen, not in state_dict)"
