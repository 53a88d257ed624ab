"""CoLin against its reference (DongshuoYin/CoLin, ``swin_colin.py``): the forward and the orthogonality loss as the
reference writes them, the initialisation, the folded inference form (in the model and through ``merge_delta.py
--fold``), and the loss reaching the detector's, segmentor's and classifier's losses through the real Runner.

The generic checks every method passes (shapes, what trains, the trainable count, bad options, unsupported backbones)
are in ``tests/test_methods.py`` and ``tests/test_method_options.py``.
"""

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import BaseModel

from conftest import TINY_SWIN
from mmpetl.engine import build_model
from mmpetl.models import build_petl_backbone
from mmpetl.models.delta import fold_branches, fold_lora, folded_model_cfg, load_delta, make_delta
from mmpetl.models.methods import CoLin, CoLinAdapter, PETLConfigError
from test_method_options import logged_warnings  # noqa: F401 (a fixture)
from test_tasks import ade20k_cfg, cls_cfg, coco_cfg, trained_runner
from test_tools import run_tool, write_demo_base, write_demo_config

SWIN = dict(type='mmdet.SwinTransformer', **TINY_SWIN)
VIT = dict(type='mmpretrain.VisionTransformer', img_size=32, patch_size=8, out_type='featmap',
           arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64))


def perturbed(module, scale=0.05, seed=1):
    """``module`` with every trainable parameter moved off its initial value (trained-like weights)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            if param.requires_grad:
                param.add_(torch.randn(param.shape, generator=generator) * scale)
    return module


# ------------------------------------------------------------------ the reference's computation, written as it is there
def reference_clp_weight(A, B, gates):
    """``CLP_Multi.forward``'s weight (swin_colin.py lines 241-256): one product per branch, summed."""
    weight = 0
    for g in gates:  # g_i: (r,), the reference's (r, 1) squeezed
        weight = weight + torch.mm(torch.mm(A, torch.diag(g)), B).t()
    return weight


def reference_colin(adapter, x, hw_shape):
    """``CoLin.forward`` (swin_colin.py lines 312-324), on the adapter's parameters."""
    project1 = F.linear(x, reference_clp_weight(adapter.project1.A, adapter.project1.B, adapter.gates),
                        adapter.project1.bias)
    b, n, c = project1.shape
    project1 = project1.view(b, hw_shape[0], hw_shape[1], c).permute(0, 3, 1, 2)
    scale = torch.sigmoid(adapter.inner_scale)
    project1 = scale * adapter.inner_op(project1) + (1.0 - scale) * project1
    project1 = project1.permute(0, 2, 3, 1).reshape(b, n, c)
    project2 = F.linear(F.gelu(project1), reference_clp_weight(adapter.project2.A, adapter.project2.B,
                                                               adapter.gates), adapter.project2.bias)
    return x + project2


def reference_orthogonal_loss(P, Q):
    """``orthogonal_loss`` (swin_colin.py lines 33-43)."""
    loss_ptp = torch.norm(P.t() @ P - torch.eye(P.size(1)), p='fro') ** 2
    loss_qqt = torch.norm(Q @ Q.t() - torch.eye(Q.size(0)), p='fro') ** 2
    return loss_ptp + loss_qqt


def test_the_adapter_computes_the_reference_forward():
    torch.manual_seed(0)
    adapter = perturbed(CoLinAdapter(48))
    x = torch.randn(2, 6 * 5, 48)
    torch.testing.assert_close(adapter(x, (6, 5)), reference_colin(adapter, x, (6, 5)), rtol=1e-5, atol=1e-5)


def test_the_orthogonality_loss_is_the_reference_sum_over_branches_and_projections():
    torch.manual_seed(0)
    model = perturbed(build_petl_backbone(SWIN, dict(type='CoLin', orth_loss='paper')))
    adapters = [m for m in model.modules() if isinstance(m, CoLinAdapter)]
    assert len(adapters) == 2 * sum(TINY_SWIN['depths'])
    # CLP_Multi.forward (lines 258-265): per projection, LOSS_WEIGHT * the loss of (A, B), once per branch
    expected = sum(0.5 * sum(reference_orthogonal_loss(p.A, p.B) for _ in range(4))
                   for a in adapters for p in (a.project1, a.project2))
    losses = model.petl_losses()
    assert list(losses) == ['loss_colin_orth'] and losses['loss_colin_orth'].requires_grad
    torch.testing.assert_close(losses['loss_colin_orth'], expected)
    with torch.autocast('cpu', dtype=torch.bfloat16):  # the training step's autocast: still computed in float32
        torch.testing.assert_close(model.petl_losses()['loss_colin_orth'], expected)
    # the reference's runs: computed and logged, not trained (see the module docstring of mmpetl's colin.py)
    model.petl_method.orth_loss = 'reference'
    logged = model.petl_losses()
    assert list(logged) == ['colin_orth'] and not logged['colin_orth'].requires_grad
    torch.testing.assert_close(logged['colin_orth'], expected.detach())


def test_initialisation_follows_the_reference():
    torch.manual_seed(0)
    adapter = CoLinAdapter(32)
    r, branches = 28, 4
    assert adapter.project1.A.shape == (32, r) and adapter.project1.B.shape == (r, 100)
    assert adapter.project2.A.shape == (100, r) and adapter.project2.B.shape == (r, 32)
    assert adapter.gates.shape == (branches, r)
    # A and B: the mean over branches of r orthonormal singular vectors
    for factor in (adapter.project1.A, adapter.project2.A, adapter.project1.B.t(), adapter.project2.B.t()):
        norms = (branches * factor).norm(dim=0)
        assert (norms <= branches + 1e-4).all() and (norms > 0.5).all()
    # the gates: each branch's singular values, in decreasing order, of the *second* projection's draws (100 x 32,
    # entries within +-0.1: at most about 0.1 / sqrt(3) * (10 + sqrt(32)) = 0.90), which the reference writes over the
    # first projection's own (32 x 100, entries within +-1/sqrt(32): up to about 1.6)
    gates = adapter.gates.detach()
    assert (gates[:, :-1] >= gates[:, 1:]).all() and (gates > 0).all()
    assert gates.max() < 1.2
    # biases uniform in +-1/sqrt(in), the mixing at one half
    assert adapter.project1.bias.abs().max() <= 32 ** -0.5 and adapter.project2.bias.abs().max() <= 0.1
    assert torch.equal(adapter.inner_scale, torch.zeros(1, 100, 1, 1))
    x = torch.randn(1, 16, 32)  # not the identity at initialisation
    assert not torch.allclose(adapter(x, (4, 4)), x)


def test_the_rank_is_capped_by_the_block_width_as_in_the_reference():
    adapter = CoLinAdapter(16)
    assert adapter.rank == 16 and adapter.project1.A.shape == (16, 16) and adapter.gates.shape == (4, 16)
    model = build_petl_backbone(dict(SWIN, embed_dims=16), dict(type='CoLin'))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == CoLin.expected_trainable(model)


@pytest.mark.parametrize('backbone', [SWIN, VIT], ids=['mmdet.Swin', 'mmpretrain.ViT'])
def test_the_folded_form_computes_the_trained_model(backbone):
    torch.manual_seed(0)
    model = perturbed(build_petl_backbone(backbone, dict(type='CoLin')))
    folded = build_petl_backbone(backbone, dict(type='CoLin', folded=True))
    state_dict = fold_branches(model, model.state_dict())
    assert not any(k.endswith(('.A', '.B', '.gates')) for k in state_dict)
    folded.load_state_dict(state_dict, strict=True)
    size = 64 if 'Swin' in backbone['type'] else 32
    x = torch.randn(2, 3, size, size)
    for mode in (False, True):
        model.train(mode), folded.train(mode)
        torch.manual_seed(1)  # the same drop-path draws
        ours = model(x)
        torch.manual_seed(1)
        theirs = folded(x)
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    assert folded.petl_losses() == {}
    with pytest.raises(ValueError, match='no folded inference form'):
        fold_branches(folded, folded.state_dict())
    with pytest.raises(ValueError, match='no LoRA modules'):
        fold_lora(model, model.state_dict())


def test_merge_delta_fold_writes_the_folded_model_and_its_config(toy_coco, tmp_path):
    config = write_demo_config(tmp_path, toy_coco, base=write_demo_base(tmp_path / 'base.pth'),
                               extra="model['backbone']['method'] = dict(_delete_=True, type='CoLin', rank=8)")
    cfg = Config.fromfile(config)
    petl = build_model(cfg)
    petl.init_weights()
    perturbed(petl)
    torch.save(make_delta(petl, cfg), tmp_path / 'delta.pth')
    merged, folded_config = tmp_path / 'merged.pth', tmp_path / 'folded.py'
    run_tool('model_converters/merge_delta.py', config, tmp_path / 'delta.pth', merged, '--fold',
             '--out-config', folded_config)
    folded_cfg = Config.fromfile(str(folded_config))
    assert folded_cfg.model.backbone.method == dict(type='CoLin', rank=8, folded=True)
    assert folded_cfg.model == folded_model_cfg(cfg.model)
    folded = build_model(folded_cfg)
    folded.load_state_dict(torch.load(merged, weights_only=True)['state_dict'], strict=True)
    x = torch.rand(1, 3, 128, 128)
    petl.eval(), folded.eval()
    with torch.no_grad():
        for ours, theirs in zip(petl.extract_feat(x), folded.extract_feat(x)):
            torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-5)


def test_a_checkpoint_of_another_form_or_method_is_refused():
    torch.manual_seed(0)
    colin = build_petl_backbone(SWIN, dict(type='CoLin'))
    for other in (dict(type='Mona'), dict(type='CoLin', folded=True)):
        with pytest.raises(ValueError, match='does not fit this model'):
            load_delta(colin, make_delta(build_petl_backbone(SWIN, other)), force=True)


def test_bad_options_are_named():
    with pytest.raises(PETLConfigError, match=r"CoLin: orth_loss must be one of .*'reference'.*'paper'"):
        build_petl_backbone(SWIN, dict(type='CoLin', orth_loss='train'))
    with pytest.raises(PETLConfigError, match='CoLin: kernel_size must be an odd int'):
        build_petl_backbone(SWIN, dict(type='CoLin', kernel_size=4))
    with pytest.raises(ValueError, match=r'CoLin.*mmdet\.ResNet'):
        build_petl_backbone(dict(type='mmdet.ResNet', depth=18), dict(type='CoLin'))


def test_training_the_paper_loss_without_the_hook_is_warned_about(logged_warnings):
    model = build_petl_backbone(SWIN, dict(type='CoLin', orth_loss='paper'))
    model.train()
    model(torch.randn(1, 3, 64, 64))
    model(torch.randn(1, 3, 64, 64))
    messages = [r.getMessage() for r in logged_warnings if 'PETLLossHook' in r.getMessage()]
    assert len(messages) == 1 and "dict(type='mmpetl.PETLLossHook')" in messages[0]


# ------------------------------------------------------------------------------ the loss through the real Runners
TASKS = {
    'detector': (coco_cfg, 'coco'),
    'segmentor': (ade20k_cfg, 'ade20k'),
    'classifier': (cls_cfg, 'imagenet'),
}


# trained ('paper') on each family; logged only ('reference') on the cheapest
@pytest.mark.parametrize('task, orth_loss', [('detector', 'paper'), ('segmentor', 'paper'), ('classifier', 'paper'),
                                             ('classifier', 'reference')])
def test_the_loss_reaches_the_task_losses_and_the_log(task, orth_loss, toy, tmp_path, monkeypatch):
    make_cfg, data = TASKS[task]
    cfg = make_cfg('CoLin', toy(data))  # CoLin's own config of the family, on a tiny Swin
    cfg.model.backbone.method.update(rank=8, orth_loss=orth_loss)
    assert any(h['type'] == 'mmpetl.PETLLossHook' for h in cfg.custom_hooks)
    steps = []  # what mmengine's train_step parses: the model's losses dict, and the total it backpropagates
    parse_losses = BaseModel.parse_losses

    def spy(model, losses):
        total, log_vars = parse_losses(model, losses)
        parsed = {k: float(sum(t.mean() for t in v) if isinstance(v, (list, tuple)) else v.mean())
                  for k, v in losses.items()}  # mmdet's RPN returns lists of per-level losses
        steps.append((parsed, float(total)))
        return total, log_vars

    monkeypatch.setattr(BaseModel, 'parse_losses', spy)
    runner, _ = trained_runner(cfg, tmp_path)
    name = 'loss_colin_orth' if orth_loss == 'paper' else 'colin_orth'
    assert len(steps) == 2
    for losses, total in steps:
        assert name in losses and losses[name] > 0, losses
        assert ('loss_colin_orth' in losses) == (orth_loss == 'paper')
        # trained in 'paper' mode only: the total is the sum of the loss_* entries (mmpretrain names its head's 'loss')
        assert total == pytest.approx(sum(v for k, v in losses.items() if 'loss' in k), rel=1e-5)
    assert f'train/{name}' in runner.message_hub.log_scalars
    with open(runner.logger.log_file) as log:  # the Runner's log names it
        assert f'{name}: ' in log.read()
    assert not runner.model.backbone.petl_losses_collected  # the hook is removed after training
