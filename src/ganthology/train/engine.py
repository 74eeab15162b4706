"""How `GANModel.update(name, loss)` steps under the trainer: Lightning Fabric's backward (loss
scaling under 16-bit mixed precision), gradients averaged across processes, Fabric's optimizer step.

Why not Fabric's DDP module wrapper: a GAN step runs D forward in the G update with D frozen, runs
networks several times per backward, and updates only some networks per call. DDP's reducer expects
every parameter of a wrapped module to receive a gradient in every backward and fails otherwise.
Averaging each optimizer's gradients explicitly, right before its step (as stylegan2-ada does),
works for any update rule: whatever a model's train_step does, every rank applies the same averaged
gradient to the same parameters, so the replicas stay identical.
"""
from __future__ import annotations

import torch

from ..models.base import backward_kwargs


class FabricEngine:
    def __init__(self, fabric):
        self.fabric = fabric
        self.world_size = fabric.world_size

    def update(self, opt, loss: torch.Tensor, shared_graph: bool = False) -> None:
        opt.zero_grad(set_to_none=True)
        # backward outside autocast (PyTorch's AMP recipe); train_step itself runs under it
        with torch.autocast(device_type=loss.device.type, enabled=False):
            self.fabric.backward(loss, **backward_kwargs(opt, shared_graph))
        if self.world_size > 1:
            self._average_gradients(opt)
        opt.step()

    def mean_across_processes(self, t: torch.Tensor) -> torch.Tensor:
        return self.fabric.all_reduce(t, reduce_op="mean") if self.world_size > 1 else t

    def _average_gradients(self, opt) -> None:
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])  # one collective per optimizer step
        flat = self.fabric.all_reduce(flat, reduce_op="mean")
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()
