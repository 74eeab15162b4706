import torch
from torch import nn


class Maxout(nn.Module):
    """Maxout units (Goodfellow et al., 2013): `units` outputs, each the max over `pieces` linear
    pieces. The discriminators of the original GAN and CGAN papers are built from these."""

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, in) -> (B, units * pieces) -> (B, units, pieces) -> (B, units)
        return self.linear(x).view(-1, self.units, self.pieces).amax(dim=2)
