"""What mmpetl does differently on a GPU, tested on the CPU as far as the logic allows.

- Device placement: a PETL backbone built on the CPU and then moved (as mmengine's Runner moves the model before
  ``init_weights()``) takes every inserted module, side network and PETL block along. Checked on the ``meta`` device
  (a second device that every CPU has: a module left behind, or a tensor made in forward on a fixed device, fails
  there) and with ``.to(torch.float64)`` (a tensor made with a fixed dtype fails).
- The fused Mona under autocast: float16 as well as bfloat16, with the residual stream in float32 or in the low
  precision (after a Swin patch merging under autocast the stream is float16: the backward mixed dtypes there), each
  against the reference formulation, for one adapter and for a whole Swin.
- ``--amp``: mmengine 0.10.7's ``AmpOptimWrapper`` refuses to start without a GPU (an assertion) and makes a CUDA
  ``GradScaler``; here both are lifted (a CPU ``GradScaler``, bfloat16 autocast, the only CPU autocast mmengine allows)
  to run the wrapper's logic: frozen parameters without gradients, dynamic loss scaling and a skipped step on an
  overflow, and ``tools/train.py --amp`` through the real Runner on toy data.
- Distributed runs: with CUDA, ``tools/train.py --launcher pytorch`` keeps the config's NCCL backend and SyncBN; without
  it, gloo, BN and no device ids (``torch.cuda.is_available`` stubbed both ways; no process group is created).
- The CUDA random state in training checkpoints (stubbed CUDA generator), and a GPU-style ``map_location`` (a callable)
  for safetensors deltas.

What needs a real GPU is in tests/test_cuda.py (skipped here) and in the acceptance run, .ci/gpu/acceptance.py
(docs/gpu.md).
"""
import copy
import functools
import glob
import os.path as osp
import runpy
import sys

import pytest
import torch
from mmengine.hooks import Hook

from mmpetl.models import build_petl_backbone
from mmpetl.models.methods import MonaAdapter

from conftest import DEMO_CONFIG, ROOT
from test_mona_fused import perturbed
from test_mona_fused import rel_diff as mona_fused_rel_diff

SWIN = dict(type='mmdet.SwinTransformer', embed_dims=32, depths=(2, 2), num_heads=(1, 2), window_size=7,
            out_indices=(0, 1))
# A smaller Swin for the autocast comparisons (float16 is slow on the CPU): 32x32 input, 8x8 then 4x4 tokens.
SMALL_SWIN = dict(type='mmdet.SwinTransformer', embed_dims=16, depths=(1, 1), num_heads=(1, 2), window_size=4,
                  out_indices=(0, 1))
VIT = dict(type='mmseg.VisionTransformer', img_size=(64, 64), patch_size=16, mlp_ratio=2, embed_dims=32,
           num_layers=4, num_heads=2)
PLACEMENT = {  # name -> (upstream backbone, method)
    'Mona': (SWIN, dict(type='Mona')),
    'Mona-reference': (SWIN, dict(type='Mona', fused=False)),
    'Adapter': (SWIN, dict(type='Adapter')),
    'AdaptFormer': (SWIN, dict(type='AdaptFormer')),
    'LoRA': (SWIN, dict(type='LoRA')),
    'LoRand': (SWIN, dict(type='LoRand')),
    'CoLin': (SWIN, dict(type='CoLin')),
    'BitFit': (SWIN, dict(type='BitFit')),
    'E3VA': (SWIN, dict(type='E3VA')),
    'HST': (VIT, dict(type='HST')),
}


def config(pattern):
    """The first config under configs/ matching ``pattern`` (by name, wherever a restructuring puts it)."""
    paths = sorted(glob.glob(osp.join(ROOT, 'configs', '**', pattern), recursive=True))
    assert paths, f'no config matches configs/**/{pattern}'
    return paths[0]


# configs with SyncBN: the demo (detector heads), HST's stem, UperNet (mmseg's runtime)
SYNCBN_CONFIGS = {'demo': lambda: DEMO_CONFIG, 'hst': lambda: config('cascade-mask-rcnn_vit-b-hst_fpn_3x_coco.py'),
                  'upernet': lambda: config('upernet_swin-l-mona_*.py')}


def rel_diff(a, b):
    """max |a - b| / max |b| (test_mona_fused's), in float32."""
    return mona_fused_rel_diff(a.float(), b.float())


def reference_of(adapter):
    reference = copy.deepcopy(adapter)
    reference.fused = reference.conv.fused = False
    return reference


# ---------------------------------------------------------------------------------------------------------------------
# Device placement


def stray_tensors(model):
    """Tensors held as plain attributes of a module (not parameters, not buffers): ``.to()`` would not move them."""
    return [f'{name}.{key}' for name, module in model.named_modules() for key, value in vars(module).items()
            if isinstance(value, torch.Tensor)]


# every method to the meta device; to float64 the methods with their own autograd function, side network or
# initialisation computed outside the parameters (CoLin's SVD)
@pytest.mark.parametrize('case, target', [(case, 'meta') for case in PLACEMENT] +
                         [(case, 'float64') for case in ('Mona', 'E3VA', 'HST', 'CoLin')])
def test_inserted_modules_follow_the_backbone(case, target):
    """Built on the CPU, then moved as the Runner moves a model (``model.to(device)``, then ``init_weights()``): every
    parameter and buffer, inserted or upstream, follows; a training forward and backward run there; the gradients of
    what trains are there too, and the frozen parameters get none."""
    backbone, method = PLACEMENT[case]
    model = build_petl_backbone(backbone, method)
    inserted = {id(module) for _, module in model.petl_method.inserted}
    model.to('meta' if target == 'meta' else torch.float64)
    model.init_weights()  # the Runner initialises after moving: nothing may be re-created on the CPU
    tensors = dict([*model.named_parameters(), *model.named_buffers()])

    def placed(tensor):
        return tensor.is_meta if target == 'meta' else (not tensor.is_floating_point() or
                                                        tensor.dtype == torch.float64)

    assert [n for n, t in tensors.items() if not placed(t)] == []
    assert stray_tensors(model) == []
    # the modules the method keeps references to are the model's own (moved with it)
    assert inserted <= {id(module) for module in model.modules()} and (inserted or case == 'BitFit')
    model.train()
    x = (torch.empty(2, 3, 64, 64, device='meta') if target == 'meta' else
         torch.randn(2, 3, 64, 64, dtype=torch.float64))
    outs = model(x)
    assert all(placed(out) for out in outs)
    sum(out.sum() for out in outs).backward()
    for name, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and placed(param.grad), name
        else:
            assert param.grad is None, name


# ---------------------------------------------------------------------------------------------------------------------
# The fused Mona under autocast (float16 and bfloat16)

TOLERANCE = {torch.float16: 1e-2, torch.bfloat16: 5e-2}  # the reference itself differs from float32 by about that


@pytest.mark.parametrize('dtype, stream', [(torch.float16, torch.float32), (torch.float16, torch.float16),
                                           (torch.bfloat16, torch.bfloat16)],
                         ids=['fp16-fp32stream', 'fp16-fp16stream', 'bf16-bf16stream'])
def test_fused_adapter_under_autocast_equals_the_reference(dtype, stream):
    """One adapter under CPU autocast, fused against the reference formulation: the output, the input's gradient and
    every parameter's gradient (float32, as the parameters), with the token stream in float32 or in ``dtype``."""
    adapter = perturbed(MonaAdapter(32, dropout=0.0))
    x0 = torch.randn(2, 16, 32)
    upstream = torch.randn(2, 16, 32, generator=torch.Generator().manual_seed(1))
    results = []
    for module in (adapter, reference_of(adapter)):
        x = x0.to(stream).clone().requires_grad_()
        with torch.autocast('cpu', dtype=dtype):
            out = module(x, (4, 4))
        (out.float() * upstream).sum().backward()
        assert out.dtype == stream and x.grad.dtype == stream and torch.isfinite(x.grad).all()
        grads = {n: p.grad for n, p in module.named_parameters()}
        assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads.values())
        results.append((out, x.grad, grads))
    (out, grad_x, grads), (ref_out, ref_grad_x, ref_grads) = results
    assert rel_diff(out, ref_out) < TOLERANCE[dtype]
    assert rel_diff(grad_x, ref_grad_x) < TOLERANCE[dtype]
    for name in grads:
        assert rel_diff(grads[name], ref_grads[name]) < TOLERANCE[dtype], name


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=['fp16', 'bf16'])
def test_fused_backbone_under_autocast_equals_the_reference(dtype):
    """A whole Swin with Mona under autocast, training mode (drop path drawn alike): the stream reaches the adapters
    in ``dtype`` after the patch merging; every trainable gradient is the reference formulation's."""
    torch.manual_seed(0)
    fused = perturbed(build_petl_backbone(SMALL_SWIN, dict(type='Mona', dropout=0.)))
    reference = build_petl_backbone(SMALL_SWIN, dict(type='Mona', fused=False, dropout=0.))
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(2, 3, 32, 32)
    grads, streams = [], []
    for model in (fused, reference):
        model.train()
        hook = model.stages[1].blocks[0].mona_attn.register_forward_pre_hook(
            lambda module, args: streams.append(args[0].dtype))
        torch.manual_seed(1)
        with torch.autocast('cpu', dtype=dtype):
            outs = model(x)
        sum((out.float() * torch.linspace(-1, 1, out.numel()).view_as(out)).sum() for out in outs).backward()
        hook.remove()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.requires_grad})
    assert streams == [dtype, dtype]
    assert grads[0].keys() == grads[1].keys() and any('mona' in name for name in grads[0])
    for name in grads[0]:
        assert torch.isfinite(grads[0][name]).all(), name
        assert rel_diff(grads[0][name], grads[1][name]) < TOLERANCE[dtype], name


# ---------------------------------------------------------------------------------------------------------------------
# --amp: AmpOptimWrapper with frozen parameters


@pytest.fixture
def amp_on_cpu(monkeypatch):
    """mmengine 0.10.7's AmpOptimWrapper asserts a GPU (or NPU/MLU/MUSA) and makes ``torch.cuda.amp.GradScaler``
    (which disables itself without CUDA): lift the assertion and make the scaler a working CPU one."""
    from mmengine.optim.optimizer import amp_optimizer_wrapper
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available', lambda: True)
    monkeypatch.setattr(amp_optimizer_wrapper, 'GradScaler', functools.partial(torch.amp.GradScaler, 'cpu'))


def test_amp_wrapper_scales_with_frozen_parameters_in_the_optimizer(amp_on_cpu):
    """float16 autocast and dynamic loss scaling, with frozen parameters handed to the optimizer anyway (a config
    without mmpetl's constructor): they get no gradient and do not move, weight decay included; an overflow skips the
    step for every parameter and halves the scale; the next step goes on."""
    from mmengine.optim import AmpOptimWrapper
    frozen, tuned = torch.nn.Linear(8, 8), torch.nn.Linear(8, 1)
    frozen.requires_grad_(False)
    optimizer = torch.optim.AdamW([*frozen.parameters(), *tuned.parameters()], lr=0.1, weight_decay=0.5)
    wrapper = AmpOptimWrapper(optimizer=optimizer, loss_scale='dynamic', clip_grad=dict(max_norm=1.0))
    initial_scale = wrapper.loss_scaler.get_scale()
    x = torch.randn(4, 8)
    before = [p.detach().clone() for p in frozen.parameters()]
    for poison in (False, True, False):
        tuned_before = [p.detach().clone() for p in tuned.parameters()]
        with torch.autocast('cpu', dtype=torch.float16):
            loss = tuned(frozen(x)).float().square().mean()
        if poison:
            loss = loss * float('inf')
        wrapper.update_params(loss)
        assert all(p.grad is None for p in frozen.parameters())
        moved = [not torch.equal(a, b) for a, b in zip(tuned_before, tuned.parameters())]
        assert not any(moved) if poison else all(moved)
    assert all(torch.equal(a, b) for a, b in zip(before, frozen.parameters()))
    assert wrapper.loss_scaler.get_scale() == initial_scale / 2  # the overflow's backoff


class _Probe(Hook):
    """Before training: the parameters, and whether the first Mona adapter runs under autocast (and in which dtype)."""

    def __init__(self):
        self.params, self.autocast = None, []

    def before_train(self, runner):
        model = runner.model
        self.params = {n: p.detach().clone() for n, p in model.named_parameters()}
        adapter = next(m for m in model.modules() if isinstance(m, MonaAdapter))
        adapter.register_forward_pre_hook(lambda module, args: self.autocast.append(
            (torch.is_autocast_enabled('cpu'), torch.get_autocast_dtype('cpu'), module.training)))


def write_cls_config(tmp_path, data_root):
    """The toy classification config (mmpretrain ImageClassifier) with Mona on a one-block-per-stage small Swin."""
    text = f'''_base_ = '{config('swin-mini_toy-shapes-cls.py')}'
data_root = '{data_root}'
model = dict(backbone=dict(method=dict(type='Mona'), backbone=dict(arch=dict(depths=[1, 1, 1, 1]), init_cfg=None)),
             head=dict(num_classes=3))
data_preprocessor = dict(num_classes=3)
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=2, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000), logger=dict(interval=1))
'''
    path = tmp_path / 'cls_mona.py'
    path.write_text(text)
    return str(path)


def test_train_tool_with_amp_runs_the_real_runner(amp_on_cpu, tmp_path, monkeypatch):
    """``tools/train.py --amp`` on toy data through mmengine's Runner: the AmpOptimWrapper with a dynamic loss scaler,
    the forward under autocast (bfloat16 on the CPU; float16 on CUDA), the fused Mona's backward in it; the frozen
    backbone does not move, Mona and the head do, and the optimizer holds the trainable parameters only.

    (A detector cannot run this on the CPU: under CPU autocast the RPN's boxes stay bfloat16, which mmcv's CPU NMS
    refuses; under CUDA autocast ``exp`` runs in float32 and the boxes are float32. The acceptance run covers it.)"""
    from mmengine.runner import Runner

    from mmpetl.datasets import make_toy_imagenet
    make_toy_imagenet(str(tmp_path / 'data'), num_train=1, num_val=1, size=64)
    config_path = write_cls_config(tmp_path, str(tmp_path / 'data') + '/')
    probe, built = _Probe(), []
    from_cfg = Runner.from_cfg.__func__

    def capture(cls, cfg):
        runner = from_cfg(cls, cfg)
        runner.register_hook(probe)
        built.append(runner)
        return runner

    monkeypatch.setattr(Runner, 'from_cfg', classmethod(capture))
    monkeypatch.setattr(sys, 'argv', [osp.join(ROOT, 'tools/train.py'), config_path, '--amp', '--work-dir',
                                      str(tmp_path / 'work_dir')])
    runpy.run_path(sys.argv[0], run_name='__main__')

    runner = built[0]
    wrapper = runner.optim_wrapper
    assert type(wrapper).__name__ == 'AmpOptimWrapper' and wrapper.loss_scaler.is_enabled()
    assert 0 < wrapper.loss_scaler.get_scale() < float('inf')
    # each of the two training forwards under autocast (the validation at the end runs without, as mmengine's does)
    assert [state[:2] for state in probe.autocast if state[2]] == [(True, torch.bfloat16)] * 2
    model = runner.model
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    in_optimizer = {id(p) for group in wrapper.optimizer.param_groups for p in group['params']}
    assert in_optimizer == trainable
    after = dict(model.named_parameters())
    changed = {n for n in probe.params if not torch.equal(probe.params[n], after[n])}
    frozen = {n for n, p in after.items() if not p.requires_grad}
    assert frozen and not changed & frozen
    assert any('.mona_' in n for n in changed) and any(n.startswith('head.') for n in changed)
    assert all(torch.isfinite(p).all() for p in after.values())


# ---------------------------------------------------------------------------------------------------------------------
# Distributed runs: NCCL and SyncBN with CUDA, gloo and BN without


def count_type(node, name):
    if isinstance(node, dict):
        return (node.get('type') == name) + sum(count_type(v, name) for v in node.values())
    if isinstance(node, list):
        return sum(count_type(v, name) for v in node)
    return 0


@pytest.fixture
def no_process_group(monkeypatch):
    """torch.distributed as if no process group existed; init_process_group records its call instead of making one."""
    calls = []
    monkeypatch.setattr(torch.distributed, 'is_initialized', lambda: False)
    monkeypatch.setattr(torch.distributed, 'init_process_group', lambda **kwargs: calls.append(kwargs))
    monkeypatch.setenv('RANK', '1')
    monkeypatch.setenv('WORLD_SIZE', '2')
    return calls


@pytest.mark.parametrize('name', list(SYNCBN_CONFIGS))
def test_distributed_backend_and_syncbn_follow_cuda(name, no_process_group, monkeypatch):
    """The configs inherit NCCL (the upstream runtimes) and use SyncBN (detector heads, HST's stem, UperNet). With CUDA
    a ``--launcher pytorch`` run keeps both and lets mmengine set the devices; without CUDA it runs on gloo, with BN
    and no device ids (mmpetl.engine.setup_cpu_distributed)."""
    from mmpetl.engine import load_config, load_runner_config
    path = SYNCBN_CONFIGS[name]()
    plain = load_config(path)
    syncbn = count_type(plain.model, 'SyncBN')
    assert syncbn and plain.env_cfg.dist_cfg.backend == 'nccl'

    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg, _ = load_runner_config(path, 'pytorch')
    assert cfg.env_cfg.dist_cfg.backend == 'nccl' and count_type(cfg.model, 'SyncBN') == syncbn
    assert 'device_ids' not in (cfg.get('model_wrapper_cfg') or {}) and no_process_group == []

    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg, _ = load_runner_config(path, 'pytorch')
    assert cfg.env_cfg.dist_cfg.backend == 'gloo' and cfg.model_wrapper_cfg.device_ids is None
    assert count_type(cfg.model, 'SyncBN') == 0
    assert count_type(cfg.model, 'BN') == count_type(plain.model, 'BN') + syncbn
    assert [call['backend'] for call in no_process_group] == ['gloo']
    assert (no_process_group[0]['rank'], no_process_group[0]['world_size']) == (1, 2)


@pytest.mark.parametrize('launcher', ['slurm', 'mpi'])
def test_gpu_only_launchers(launcher, no_process_group, monkeypatch):
    """slurm and mpi runs need GPUs (mmengine sets a CUDA device first): refused without CUDA, naming the way that
    works; left to mmengine with CUDA. ``--launcher none`` changes nothing either way."""
    from mmpetl.engine import load_runner_config
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match='--launcher pytorch'):
        load_runner_config(DEMO_CONFIG, launcher)
    cfg, _ = load_runner_config(DEMO_CONFIG, 'none')
    assert cfg.env_cfg.dist_cfg.backend == 'nccl' and count_type(cfg.model, 'SyncBN')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg, _ = load_runner_config(DEMO_CONFIG, launcher)
    assert cfg.env_cfg.dist_cfg.backend == 'nccl' and no_process_group == []


# ---------------------------------------------------------------------------------------------------------------------
# Random states and map_location


def test_cuda_random_state_is_saved_and_restored(monkeypatch):
    """RNGStateHook keeps CUDA's generator state when CUDA is in use and gives it back on resume; a checkpoint made
    on a GPU resumes on a machine without one (the CUDA state is then skipped)."""
    from mmpetl.engine.hooks.rng_state_hook import get_rng_state, set_rng_state
    cuda_state, restored = torch.arange(16, dtype=torch.uint8), []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_initialized', lambda: True)
    monkeypatch.setattr(torch.cuda, 'get_rng_state', lambda: cuda_state.clone())
    monkeypatch.setattr(torch.cuda, 'set_rng_state', lambda state: restored.append(state))
    state = get_rng_state()
    assert torch.equal(state['cuda'], cuda_state)
    set_rng_state(state)
    assert len(restored) == 1 and torch.equal(restored[0], cuda_state) and restored[0].device.type == 'cpu'

    monkeypatch.setattr(torch.cuda, 'is_initialized', lambda: False)
    assert 'cuda' not in get_rng_state()  # CUDA not in use: nothing to keep
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    expected = torch.rand(3, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    set_rng_state(state | dict(torch=torch.get_rng_state()))
    assert len(restored) == 1 and torch.equal(torch.rand(3), expected)


def test_safetensors_load_with_a_gpu_style_map_location(tmp_path):
    """mmengine resumes on a GPU with ``map_location=lambda storage, loc: storage.cuda(id)``; a safetensors file is
    then read to the CPU (load_state_dict copies onto the model's device); a device name is passed on."""
    from safetensors.torch import save_file

    from mmpetl.utils.checkpoint import load_checkpoint_file
    path = str(tmp_path / 'delta.safetensors')
    save_file({'w': torch.arange(4.)}, path)

    def to_cuda(storage, location):
        raise AssertionError('the callable is not applied to safetensors')

    for map_location in (to_cuda, 'cpu', torch.device('cpu'), None):
        loaded = load_checkpoint_file(path, map_location=map_location)
        assert loaded['state_dict']['w'].device.type == 'cpu' and torch.equal(loaded['state_dict']['w'],
                                                                             torch.arange(4.))


# ---------------------------------------------------------------------------------------------------------------------
# The benchmark's CUDA decisions, with torch.cuda stubbed (its measurements on CUDA: tests/test_cuda.py)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)


def test_benchmark_device_check_with_two_gpus(two_gpus):
    from mmpetl.benchmark.measure import check_device
    assert check_device('cuda') == torch.device('cuda') and check_device('cuda:1') == torch.device('cuda:1')
    with pytest.raises(ValueError, match=r"device 'cuda:2': there are 2 CUDA device\(s\), cuda:0 to cuda:1"):
        check_device('cuda:2')


def test_benchmark_refuses_a_detector_on_cuda_without_mmcv_cuda_ops(two_gpus, monkeypatch):
    """A detector's RoIAlign/NMS need mmcv's CUDA ops: the check names the fix; the backbone alone needs none."""
    import mmcv.ops

    from mmpetl.benchmark.workloads import check_run
    monkeypatch.setattr(mmcv.ops, 'get_compiling_cuda_version', lambda: 'not available')
    with pytest.raises(ValueError, match='mmcv was built without its CUDA ops.*MMPETL_CUDA=1'):
        check_run(DEMO_CONFIG, ['Mona'], device='cuda')
    check_run(DEMO_CONFIG, ['Mona'], parts=('backbone', ), device='cuda')
    monkeypatch.setattr(mmcv.ops, 'get_compiling_cuda_version', lambda: '13.0')
    check_run(DEMO_CONFIG, ['Mona'], device='cuda')


def test_benchmark_cuda_peak_synchronises_and_resets_around_the_step(monkeypatch):
    from mmpetl.benchmark.measure import cuda_peak
    calls = []
    monkeypatch.setattr(torch.cuda, 'synchronize', lambda device=None: calls.append('sync'))
    monkeypatch.setattr(torch.cuda, 'reset_peak_memory_stats', lambda device=None: calls.append('reset'))
    monkeypatch.setattr(torch.cuda, 'max_memory_allocated', lambda device=None: 1000)
    peak = cuda_peak(lambda: calls.append('step'), torch.device('cuda:0'), baseline=300)
    assert peak == 700 and calls == ['sync', 'reset', 'step', 'sync']


# ---------------------------------------------------------------------------------------------------------------------
# The acceptance run's tools (docs/gpu.md; its whole plumbing runs with --device cpu --quick, minutes: not here)


def test_acceptance_tools_answer_help_and_check_their_arguments():
    import subprocess
    prepare = subprocess.run(['bash', osp.join(ROOT, '.ci/gpu/prepare_bundle.sh'), '--help'], capture_output=True,
                             text=True, timeout=60)
    assert prepare.returncode == 0 and '--build-mmcv' in prepare.stdout and '64 MiB' in prepare.stdout
    tool = [sys.executable, osp.join(ROOT, '.ci/gpu/acceptance.py')]  # stdlib only: no torch import
    assert 'test_cuda' in subprocess.run([*tool, '--help'], capture_output=True, text=True, timeout=60).stdout
    for bad in (['--steps', 'benchmark,nonsense'], ['--results', ROOT]):
        refused = subprocess.run([*tool, *bad, '--dry-run'], capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and ('nonsense' in refused.stderr or 'emptied' in refused.stderr)
