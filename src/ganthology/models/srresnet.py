"""Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network. Ledig, Theis,
Huszar, Caballero, Cunningham, Acosta, Aitken, Tejani, Totz, Wang, Shi, 2017. arXiv:1609.04802

SRResNet is the first of the paper's two stages: a deep residual network G that maps a low-
resolution image to one four times larger (16 residual blocks at the low resolution, then two x2
sub-pixel convolutions, figure 4), trained with the pixel-wise MSE to the high-resolution image
(eq. 4). It sets the paper's PSNR record (table 2) and is where SRGAN starts from (section 3.2);
its outputs are, as the paper shows, too smooth: the MSE optimum is the average of the plausible
sharp images. This file is that stage on its own; `srgan.py` adds the perceptual loss and D.

Data ranges. The paper scales LR inputs to [0, 1] and HR images to [-1, 1] (section 3.2). Here both
are in [-1, 1], the range of every image in this library, so that `translate` takes a user's image
like every other model does: an affine change of the input range is absorbed exactly by G's first
convolution, so nothing the network can express changes. The output conv has no squashing
activation, so G's range contains the targets' [-1, 1]; `translate` clamps to it.

Data. `photo_sr` gives 96x96 HR crops (section 3.2's patch size) with their x4 bicubic copies (role
"low-resolution input"); any other image dataset (`--dataset folder:PATH`, CelebA, DIV2K crops)
works too: when a batch has no low-resolution copy, it is made on the fly by x4 bicubic
downscaling with antialiasing, the degradation of section 3.1.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import GanthologyError
from ..nn.srresnet import SRResNetGenerator
from ..registry import register_model
from .base import DataInfo, GANModel

SCALE = 4  # section 3.1: "a downsampling factor r = 4"


def bicubic_down(x: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H/scale, W/scale) in float: bicubic with antialiasing, as
    `data.photos.bicubic_downscale` does for uint8 (without its rounding to 8 bits)."""
    return F.interpolate(x, scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False)


def bicubic_up(lr: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, scale*h, scale*w): the bicubic baseline of table 2, clamped to [-1, 1]."""
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(-1, 1)


def high_frequency_energy(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute 4-neighbour Laplacian of (B, C, H, W) images, over the interior pixels: how much
    fine detail (edges, texture) an image holds."""
    lap = 4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2] - x[..., 1:-1, 2:]
    return lap.abs().mean()


def sharpness(pred: torch.Tensor, target: torch.Tensor) -> float:
    """High-frequency energy of outputs over that of the ground truth: 1 = as much detail as the real
    photos, below 1 = smoother (bicubic; the MSE optimum), above 1 = more (noise, artefacts)."""
    return float(high_frequency_energy(pred.float()) / high_frequency_energy(target.float()))


@dataclass
class SRResNetConfig:
    n_blocks: int = 16  # figure 4: B = 16 residual blocks
    ngf: int = 64  # figure 4: k3n64s1 convolutions in every residual block
    lr: float = 1e-4  # section 3.2: Adam with a learning rate of 1e-4 (10^6 updates for SRResNet)
    beta1: float = 0.9  # section 3.2: Adam with beta1 = 0.9
    beta2: float = 0.999  # Adam's default; the paper gives only beta1
    batch_size: int = 16  # section 3.2: 16 random 96x96 HR sub-images per mini-batch


@register_model("srresnet")
class SRResNet(GANModel):
    paper = ("Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network. "
             "Ledig et al., 2017. arXiv:1609.04802")
    year = 2017
    default_dataset = "photo_sr"
    Config = SRResNetConfig
    vector_data = False  # images only
    requires = ("image",)  # HR images; their LR copies come with the data or are made here
    scores = {"psnr": "max", "ssim": "max", "l1": "min"}  # of G(lr) against the held-out HR images
    upscale_factor = SCALE

    def __init__(self, cfg, data: DataInfo):
        super().__init__(cfg, data)
        if data.image_size % SCALE:
            fit = data.image_size // SCALE * SCALE or SCALE
            raise GanthologyError(f"{self.name} needs high-resolution images whose side is a multiple of "
                                  f"{SCALE}, not {data.image_size}; pass --image-size {fit}.")
        self.G = SRResNetGenerator(data.channels, cfg.ngf, cfg.n_blocks, SCALE)

    def optimizers(self):
        c = self.cfg
        return {"G": torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=(c.beta1, c.beta2))}

    # --- the data: (HR, LR) pairs -----------------------------------------------------------------
    def pair(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(hr, lr): the HR images and their x4 LR copies, from the batch or made by bicubic
        downscaling (section 3.1) when the dataset holds none (an image folder)."""
        hr = batch[self.data.key("image")]
        key = self.data.key("low-resolution input")
        lr = batch[key] if key is not None else bicubic_down(hr)  # (B, C, H, W) -> (B, C, H/4, W/4)
        return hr, lr

    def train_step(self, batch, step):
        hr, lr = self.pair(batch)
        # eq. 4: the pixel-wise MSE between G(I_LR) and I_HR
        loss_mse = F.mse_loss(self.G(lr), hr)
        self.update("G", loss_mse)
        return {"loss_mse": loss_mse.detach()}

    # --- using it -------------------------------------------------------------------------------
    @torch.no_grad()
    def translate(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) LR images in [-1, 1], any size -> (N, C, 4h, 4w) in [-1, 1]. BatchNorm uses
        its running statistics (eval mode), so each image's output does not depend on the others."""
        c = self.data.channels
        if x.dim() != 4 or x.shape[1] != c:
            raise GanthologyError(f"{self.name} upscales {c}-channel images but got shape {tuple(x.shape)}.")
        was_training = self.G.training
        self.G.eval()
        try:
            return self.G(x.to(self.device)).clamp(-1, 1)
        finally:
            self.G.train(was_training)

    def input_spec(self, **options) -> tuple[int, int | None]:
        return self.data.channels, None  # fully convolutional: any size

    @torch.no_grad()
    def held_out_metrics(self, test: dict[str, torch.Tensor], **options) -> dict[str, float]:
        """PSNR and SSIM of G(lr) against the HR images as the paper reports them (luma, a 4-pixel
        border shaved: section 3.3; PSNR per held-out photograph where the tiles say which) and L1 (RGB), the same for bicubic upsampling of lr (`*_bicubic`,
        table 2's baseline), and the sharpness of both (high-frequency energy over the ground
        truth's): what SRGAN trades PSNR for. `options` go to `translate` (esrgan's `alpha`)."""
        from ..metrics.scores import super_resolution_scores

        hr, lr = self.pair(test)
        hr = hr.float()
        sr = torch.cat([self.translate(b, **options) for b in lr.float().split(16)])
        bicubic = bicubic_up(lr.float())
        photo = test.get("photo")  # photo_sr: the held-out photograph of each tile, for per-photo PSNR
        out = super_resolution_scores(sr, hr, SCALE, photo)
        out |= {f"{k}_bicubic": v for k, v in super_resolution_scores(bicubic, hr, SCALE, photo).items()}
        out |= {"sharpness": sharpness(sr, hr), "sharpness_bicubic": sharpness(bicubic, hr)}
        return out

    def preview(self, batch):
        hr, lr = self.pair(batch)
        hr, lr = hr[:8], lr[:8]
        rows = torch.stack([bicubic_up(lr), self.translate(lr), hr], dim=1).flatten(0, 1)  # (3N, C, H, W)
        return rows, 6  # two examples per row: bicubic | G(lr) | ground truth
