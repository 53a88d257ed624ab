"""The CUDA paths: the benchmark's CUDA figures and the fused Mona on a GPU.

Skipped where torch sees no GPU (CI has none). On a GPU machine ``make test`` runs them, and the Runner tests
(``test_tasks.py``, ``test_runner.py``) train on the GPU too, since mmengine puts the model there.
"""
import copy

import pytest
import torch

from mmpetl.models.methods import MonaAdapter
from mmpetl import benchmark

from conftest import DEMO_CONFIG
from test_mona_fused import RTOL, assert_backbone_gradients_equal_the_reference, perturbed, rel_diff

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA device')


@pytest.fixture(autouse=True)
def _no_tf32():
    """Exact float32 on the GPU: cuDNN convolutions default to TF32 (10-bit mantissa), which the equality checks
    against the reference formulation at 1e-5 would otherwise measure."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def test_benchmark_measures_on_cuda():
    result = benchmark.run_benchmark(DEMO_CONFIG, ['Mona', 'E3VA'], size=64, steps=1, warmup=1, device='cuda',
                                     log=lambda message: None)
    assert result['meta']['device'] == 'cuda' and 'gpu' in result['meta']['machine']
    for part in benchmark.PARTS:
        rows = {row['method']: row for row in result['rows'] if row['part'] == part}
        assert list(rows) == ['Full', 'Mona', 'E3VA']
        for row in rows.values():
            assert row['status'] == 'ok' and row['peak_kind'] == 'cuda max_memory_allocated'
            assert row['peak_bytes'] >= 4 * row['total'] + row['saved_bytes']
            assert row['step_time'] > 0 and 'step_cpu_time' not in row and 'rss_peak_bytes' not in row
            assert row['peak_bytes_ratio'] == pytest.approx(row['peak_bytes'] / rows['Full']['peak_bytes'])
        if part == 'backbone':
            assert rows['E3VA']['saved_bytes'] < rows['Full']['saved_bytes']
    assert '| Mona |' in benchmark.to_markdown(result)


def test_mona_micro_benchmark_on_cuda():
    micro = benchmark.mona_conv_micro_benchmark(batch=2, channels=64, size=32, steps=3, warmup=1, device='cuda')
    assert micro['device'] == 'cuda' and micro['speedup'] > 0
    assert max(micro['max_rel_diff'].values()) < RTOL


@pytest.mark.parametrize('with_cp', [False, True])
def test_fused_mona_gradients_equal_the_reference_on_cuda(with_cp):
    assert_backbone_gradients_equal_the_reference(with_cp, 'cuda')


def test_fused_mona_under_cuda_autocast():
    adapter = perturbed(MonaAdapter(32, dropout=0.1)).cuda()
    reference = copy.deepcopy(adapter)
    reference.fused = reference.conv.fused = False
    for module in (adapter, reference):
        module.eval()  # the same function: no dropout draws
    grads = []
    for module in (adapter, reference):
        x = torch.randn(2, 16, 32, device='cuda', generator=torch.Generator('cuda').manual_seed(0),
                        requires_grad=True)
        with torch.autocast('cuda', dtype=torch.bfloat16):
            out = module(x, (4, 4))
        out.float().sum().backward()
        assert x.grad.dtype == torch.float32 and torch.isfinite(x.grad).all()
        grads.append(x.grad)
    assert rel_diff(grads[0], grads[1]) < 1e-2  # bfloat16 matmuls in both, in different orders
