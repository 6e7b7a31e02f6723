"""LoRA factors (kohya-ss/sd-scripts networks/lora.py maths), kohya export names and the training loop (AC-RF
technical report v1.1 §6: accumulation, L2 clipping at 1.0, NaN stop keeping the last good LoRA)."""
import math

import pytest
import torch
import torch.nn.functional as F

from forgeline.training import (LoraNetwork, clip_gradients, export_kohya, kohya_metadata, kohya_names, select_targets,
                                target_group, train_loop, train_step)


class Attn(torch.nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.to_q = torch.nn.Linear(d, d, bias=False)
        self.to_k = torch.nn.Linear(d, d, bias=False)
        self.to_v = torch.nn.Linear(d, d, bias=False)
        self.to_out = torch.nn.Sequential(torch.nn.Linear(d, d), torch.nn.Dropout(0.0))


class Block(torch.nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(d)
        self.attn1 = Attn(d)
        self.ff = torch.nn.Module()
        self.ff.net = torch.nn.Sequential(torch.nn.Linear(d, 2 * d), torch.nn.GELU(), torch.nn.Linear(2 * d, d))
        self.proj_in = torch.nn.Conv2d(d, d, 1)
        self.final_layer = torch.nn.Linear(d, d)

    def forward(self, x):
        a = self.attn1
        return a.to_out(a.to_q(x) + a.to_k(x) + a.to_v(x)) + self.ff.net[2](self.ff.net[1](self.ff.net[0](x)))


def test_target_groups_follow_report():
    assert target_group("input_blocks.1.1.transformer_blocks.0.attn1.to_q") == "attention"
    assert target_group("x.attn2.to_out.0") == "attention"
    assert target_group("x.ff.net.2") == "feed_forward"
    assert target_group("x.ff.net.0.proj") == "feed_forward"
    assert target_group("x.norm1") is None and target_group("final_layer.linear") is None
    names = [n for n, _ in select_targets(Block().named_modules())]
    assert names == ["attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0"]
    names = [n for n, _ in select_targets(Block().named_modules(), ("attention", "feed_forward"))]
    assert names[-1] == "ff.net.2"


def test_kohya_init_and_forward_equals_merged_weight():
    torch.manual_seed(0)
    blk = Block()
    net = LoraNetwork(select_targets(blk.named_modules()), rank=4, alpha=2.0, seed=7)
    f = net.factor("attn1.to_q")
    assert f.down.shape == (4, 8) and f.up.shape == (8, 4) and f.scale == 0.5
    assert float(f.down.detach().abs().max()) <= 1 / math.sqrt(8) and torch.count_nonzero(f.up) == 0
    with torch.no_grad():
        f.up.normal_()
    x = torch.randn(3, 8)
    net.attach()
    got = blk.attn1.to_q(x)
    net.detach()
    w = blk.attn1.to_q.weight
    want = F.linear(x, w + f.up @ f.down * 0.5)                 # kohya merge_to: W + (up @ down) * alpha / r
    assert torch.allclose(got, want, atol=1e-6)
    assert torch.equal(blk.attn1.to_q(x), F.linear(x, w))       # detached: the base layer alone


def test_conv_factor_matches_merge():
    conv = torch.nn.Conv2d(6, 5, 3, padding=1)
    net = LoraNetwork([("proj", conv)], rank=2, alpha=0, seed=1)
    f = net.factor("proj")
    with torch.no_grad():
        f.up.normal_()
    x = torch.randn(1, 6, 7, 7)
    net.attach()
    got = conv(x)
    net.detach()
    want = F.conv2d(x, conv.weight + f.weight_delta(), conv.bias, padding=1)
    assert f.scale == 1.0 and torch.allclose(got, want, atol=1e-5)


def test_rank_larger_than_layer_names_it():
    lin = torch.nn.Linear(8, 3)
    with pytest.raises(ValueError, match=r"rank 4 is larger than layer 'small'.*at most 3"):
        LoraNetwork([("small", lin)], rank=4, alpha=4)


def test_kohya_names_sd15_and_sdxl():
    sd15 = ["diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight",
            "diffusion_model.input_blocks.3.0.op.weight",
            "diffusion_model.output_blocks.3.1.transformer_blocks.0.attn2.to_out.0.weight"]
    names = kohya_names(["input_blocks.1.1.transformer_blocks.0.attn1.to_q",
                         "output_blocks.3.1.transformer_blocks.0.attn2.to_out.0"], sd15)
    assert names["input_blocks.1.1.transformer_blocks.0.attn1.to_q"] == \
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
    assert names["output_blocks.3.1.transformer_blocks.0.attn2.to_out.0"] == \
        "lora_unet_up_blocks_1_attentions_0_transformer_blocks_0_attn2_to_out_0"
    sdxl = ["diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight",
            "diffusion_model.label_emb.0.0.weight"]
    assert kohya_names(["input_blocks.4.1.transformer_blocks.0.attn2.to_k"], sdxl) == {
        "input_blocks.4.1.transformer_blocks.0.attn2.to_k": "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k"}


def test_export_and_metadata():
    blk = Block()
    net = LoraNetwork(select_targets(blk.named_modules()), rank=2, alpha=1.0)
    sd = export_kohya(net, {n: "lora_unet_" + n.replace(".", "_") for n in net.names})
    assert sd["lora_unet_attn1_to_q.lora_down.weight"].shape == (2, 8)
    assert sd["lora_unet_attn1_to_out_0.lora_up.weight"].shape == (8, 2)
    assert sd["lora_unet_attn1_to_q.alpha"].dim() == 0 and float(sd["lora_unet_attn1_to_q.alpha"]) == 1.0
    meta = kohya_metadata(rank=2, alpha=1.0, base_model_version="sd_v1", steps=30, num_images=4, output_name="x",
                          trigger_words=["sks dog"], acrf={"snr_gamma": 5.0})
    assert all(isinstance(v, str) for v in meta.values())
    assert meta["ss_network_dim"] == "2" and meta["modelspec.trigger_phrase"] == "sks dog"
    assert meta["ss_tag_frequency"] == '{"1_sks dog": {"sks dog": 4}}' and meta["ss_acrf_snr_gamma"] == "5.0"
    assert meta["modelspec.architecture"] == "stable-diffusion-v1/lora"


def test_clip_gradients_l2():
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])
    assert clip_gradients([p], 1.0) == pytest.approx(5.0)
    assert torch.allclose(p.grad, torch.tensor([0.6, 0.8]), atol=1e-6)
    p.grad = torch.tensor([0.3, 0.4])
    clip_gradients([p], 1.0)
    assert torch.allclose(p.grad, torch.tensor([0.3, 0.4]))


def test_accumulation_averages_micro_gradients():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    # micro losses (g+1)*p: gradients 1 and 2 -> mean 1.5 (below the clip norm 10)
    loss, norm = train_step([p], opt, lambda s, g: (g + 1) * p.sum(), 0, grad_accumulation=2, max_norm=10.0)
    assert norm == pytest.approx(1.5) and float(p.detach()) == pytest.approx(-1.5)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(3))

    def snapshot(self):
        return {"w": self.w.detach().clone()}

    def restore(self, snap):
        with torch.no_grad():
            self.w.copy_(snap["w"])


def test_nan_loss_stops_and_keeps_last_good():
    net = Tiny()
    states, progress = [], []

    def micro(step, g):
        if step == 3:
            return net.w.sum() * float("nan")
        return (net.w ** 2).sum()

    res = train_loop(net, lambda s, g: micro(s, g), steps=6, lr=0.1,
                     on_progress=lambda *a: (progress.append(a), states.append(net.w.detach().clone())))
    assert res.steps_done == 3 and "step 4" in res.stopped and len(res.losses) == 3
    assert torch.equal(net.w.detach(), states[-1])
    assert [p[0] for p in progress] == [1, 2, 3] and progress[-1][3] == pytest.approx(sum(res.losses) / 3)


def test_interrupt_propagates():
    net = Tiny()
    calls = []

    def check():
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_loop(net, lambda s, g: (net.w ** 2).sum(), steps=5, check_interrupt=check)
    assert len(calls) == 3


def test_loss_curve_image_draws_the_losses():
    from forgeline.training.loss_curve import loss_curve_image

    img = loss_curve_image([1.0, 0.5, 0.25], width=64, height=32, margin=2)
    assert img.shape == (1, 32, 64, 3) and img.dtype.name == "float32"
    blue = (img[0, :, :, 2] > 0.8) & (img[0, :, :, 0] < 0.2)
    # first loss (the max) at the top-left of the plot area, last (the min) at the bottom-right
    assert blue[2, 2] and blue[29, 61]
    assert loss_curve_image([], 16, 16).shape == (1, 16, 16, 3)
    assert loss_curve_image([float("nan"), 2.0], 16, 16).shape == (1, 16, 16, 3)
