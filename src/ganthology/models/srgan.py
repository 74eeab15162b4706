"""Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network. Ledig, Theis,
Huszar, Caballero, Cunningham, Acosta, Aitken, Tejani, Totz, Wang, Shi, 2017. arXiv:1609.04802

SRGAN trains the SRResNet generator (srresnet.py) with a perceptual loss instead of the pixel MSE
(eq. 3): a content loss, the MSE between feature maps of a frozen VGG19 pre-trained on ImageNet
(phi_5,4, after the ReLU: "VGG54", eq. 5), plus 10^-3 times an adversarial loss, -log D(G(I_LR))
(eq. 6), from a discriminator D trained to tell real HR images from super-resolved ones (eq. 2).
The MSE optimum is the average of all plausible sharp images, hence blurry; the adversarial term
pushes G's outputs onto the manifold of natural images instead. SRGAN loses PSNR to SRResNet and
wins on perceived quality (table 2: mean opinion scores); `held_out_metrics` shows the trade with a
sharpness statistic beside PSNR/SSIM. As in the paper, G starts from a trained SRResNet
(section 3.2: "We employed the trained MSE-based SRResNet network as initialization"): pass that
run as `init_from`.

The VGG19's weights (torchvision's vgg19-dcbb9e9d.pth) come from `vgg_weights` or torch's cache;
without them the content loss runs on a randomly initialised VGG19, with a warning, and the run's
config records which one was used (nn/perceptual.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import GanthologyError
from ..losses import d_loss_bce, g_loss_nonsaturating
from ..nn.perceptual import RELU5_4, VGGFeatures, resolve_vgg_weights
from ..nn.srresnet import SRGANDiscriminator
from ..registry import register_model
from .base import DataInfo, frozen
from .srresnet import SRResNet

#: the VGG layers the paper compares (section 3.4): phi_2,2 and phi_5,4, after their ReLU; the cut
#: of torchvision's vgg19().features that ends there (the PyTorch-GAN script's [:18] is relu3_4)
VGG_LAYERS = {"relu2_2": 9, "relu5_4": RELU5_4}


@dataclass
class SRGANConfig:
    n_blocks: int = 16  # figure 4: B = 16 residual blocks in G
    ngf: int = 64  # figure 4: k3n64s1 convolutions in every residual block
    ndf: int = 64  # figure 4: D's convolutions grow 64, 64, 128, 128, 256, 256, 512, 512
    fc: int = 1024  # figure 4: D's dense layer of 1024 units before the single output
    vgg_layer: str = "relu5_4"  # eq. 5: phi_5,4 after the ReLU (SRGAN-VGG54); relu2_2 is SRGAN-VGG22
    vgg_scale: float = 1 / 12.75  # section 3.2: the VGG loss on the MSE's scale (random-init fallback: try 1)
    lambda_adv: float = 1e-3  # eq. 3: l_SR = l_X + 10^-3 l_Gen
    vgg_weights: str = "auto"  # torchvision's vgg19-dcbb9e9d.pth: a path, or auto (torch's cache; random-init fallback)
    init_from: str = ""  # section 3.2: start G from a trained srresnet (its run folder, checkpoint or export)
    lr: float = 1e-4  # section 3.2: Adam, learning rate 1e-4, then 1e-5 (10^5 updates each)
    lr_drop_step: int = 100_000  # section 3.2: after 10^5 updates the rate falls to a tenth (1e-5)
    beta1: float = 0.9  # section 3.2: Adam with beta1 = 0.9
    beta2: float = 0.999  # Adam's default; the paper gives only beta1
    batch_size: int = 16  # section 3.2: 16 random 96x96 HR sub-images per mini-batch


@register_model("srgan")
class SRGAN(SRResNet):
    """SRResNet's G, data handling, `translate` and `held_out_metrics`, with D and the perceptual loss."""

    Config = SRGANConfig

    def __init__(self, cfg: SRGANConfig, data: DataInfo):
        super().__init__(cfg, data)  # builds G
        if cfg.vgg_layer not in VGG_LAYERS:
            raise GanthologyError(f"--vgg-layer must be one of {', '.join(VGG_LAYERS)}, not {cfg.vgg_layer!r}.")
        self.D = SRGANDiscriminator(data.channels, data.image_size, cfg.ndf, cfg.fc)
        # "auto" becomes "imagenet:<path>" or "random-init fallback" here, in the config the run
        # writes (config.yaml, checkpoints), so a resumed or reloaded run uses the same network
        cfg.vgg_weights = resolve_vgg_weights(cfg.vgg_weights)
        self.vgg = VGGFeatures(cfg.vgg_weights, VGG_LAYERS[cfg.vgg_layer])  # frozen, in no state_dict

    def optimizers(self):
        c = self.cfg
        return {"G": torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=(c.beta1, c.beta2)),
                "D": torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=(c.beta1, c.beta2))}

    def schedulers(self):
        # a step count, not a share of the run, so a run continued with more --steps keeps its schedule
        drop = self.cfg.lr_drop_step
        return {k: torch.optim.lr_scheduler.LambdaLR(o, lambda s: 1.0 if s < drop else 0.1)
                for k, o in self.opt.items()}

    def bind_data(self, dataset) -> None:
        """Before training: start G from the SRResNet run `init_from` (section 3.2)."""
        if self.cfg.init_from:
            self.init_generator(self.cfg.init_from)

    def init_generator(self, path: str) -> None:
        from ..api import load

        try:
            source = load(path)
        except GanthologyError as e:
            raise GanthologyError(f"--init-from: {e}") from None
        if not isinstance(source, SRResNet):
            raise GanthologyError(f"--init-from {path} holds a {source.name} model; give a srresnet run, the "
                                  "network SRGAN starts from (section 3.2).")
        try:
            self.G.load_state_dict(source.G.state_dict())
        except RuntimeError:
            raise GanthologyError(f"the generator in {path} has another shape (ngf {source.cfg.ngf}, n_blocks "
                                  f"{source.cfg.n_blocks}, {source.data.channels} channels); train with the "
                                  "same --ngf, --n-blocks and channels.") from None

    def content_loss(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """eq. 5: the MSE between VGG feature maps of G(I_LR) and I_HR, each map scaled by vgg_scale."""
        with torch.no_grad():
            target = self.vgg(hr) * self.cfg.vgg_scale
        return F.mse_loss(self.vgg(sr) * self.cfg.vgg_scale, target)

    def train_step(self, batch, step):
        hr, lr = self.pair(batch)
        sr = self.G(lr)  # (B, C, H/4, W/4) -> (B, C, H, W)
        # D: eq. 2, real HR images against super-resolved ones (BCE on logits; the losses' halving
        # of D's loss only rescales its gradient, which Adam's step ignores)
        loss_D = d_loss_bce(self.D(hr), self.D(sr.detach()))
        self.update("D", loss_D)
        # G: eq. 3, content loss + 10^-3 x adversarial loss -log D(G(I_LR)) (eq. 6)
        with frozen(self.D):
            loss_adv = g_loss_nonsaturating(self.D(sr))
        loss_content = self.content_loss(sr, hr)
        self.update("G", loss_content + self.cfg.lambda_adv * loss_adv)
        return {"loss_D": loss_D.detach(), "loss_G": loss_adv.detach(), "loss_content": loss_content.detach()}
