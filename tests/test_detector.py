"""Mona inside a whole mmdet detector (the demo's Cascade Mask R-CNN), on the toy COCO data."""
from mmengine.runner import Runner

from conftest import demo_cfg


def test_exactly_mona_neck_and_heads_get_gradients(toy_coco, tmp_path):
    runner = Runner.from_cfg(demo_cfg(toy_coco, str(tmp_path)))
    model = runner.model
    model.train()
    batch = next(iter(runner.train_dataloader))
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    loss.backward()

    for name, param in model.named_parameters():
        has_grad = param.grad is not None and bool(param.grad.abs().sum() > 0)
        if name.startswith('backbone.'):
            assert param.requires_grad == ('.mona_' in name), name
            assert has_grad == ('.mona_' in name), name
        else:  # neck and heads train as usual
            assert param.requires_grad, name
    backbone_grads = [n for n, p in model.backbone.named_parameters() if p.grad is not None]
    assert backbone_grads and all('.mona_' in n for n in backbone_grads)
    assert all(p.grad is not None for p in model.neck.parameters())
