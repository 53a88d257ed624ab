"""What the transfer study runs: its tasks, its rows (backbone x method x initialisation) and the checks made before
anything trains.

A *task* is a downstream config per backbone (``configs/transfer/``), its dataset (generated, in the real on-disk
format) and its metrics. A *row* is a backbone, a method and an initialisation: ``pretrained`` (the shipped small
backbones of :mod:`mmpetl.models.small_backbones`) or ``random`` (the same backbone with no checkpoint: what
pretraining brings). A *run* is a task, a row and a seed. Every run of a task uses the same config, data, schedule,
optimizer and learning rate; only ``model.backbone.method`` (and, for ``random``, the backbone's ``init_cfg``) differ.
"""
import ast
import functools
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..datasets import make_toy_ade20k, make_toy_coco, make_toy_imagenet

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

SWIN_METHODS = ('Full', 'Fixed', 'Mona', 'E3VA', 'LoRA', 'Adapter', 'AdaptFormer', 'LoRand', 'BitFit', 'LNTune',
                'Partial1', 'CoLin')
VIT_METHODS = ('Full', 'Fixed', 'HST', 'Mona', 'LoRA', 'CoLin')
#: backbone -> the methods of the study on it, in table order; ``Fixed@random`` is Fixed on the random backbone (and
#: ``HST@random`` HST on the random ViT: on the dense tasks the ViT runs HST alone)
DEFAULT_METHODS = {'swin-mini': SWIN_METHODS + ('Fixed@random', ),
                   'vit-mini': VIT_METHODS + ('Fixed@random', 'HST@random')}
QUICK_METHODS = {'swin-mini': ('Full', 'Fixed', 'Mona', 'Fixed@random'), 'vit-mini': ('HST', )}

#: The sizes of the methods: ``default`` (mmpetl's defaults, set for Swin-B/L and ViT-B) or ``proportional``: each
#: width option scaled from the backbone the defaults were set for to the small backbone, by the ratio of their
#: widths (swin-mini 24 / Swin-B 128; vit-mini 96 / ViT-B 768), rounded, at least 1. Counts (LoRand's subspaces,
#: CoLin's branches), scales and HST's side network (a network of its own, whose widths / 8 could not hold its
#: heads) keep their defaults.
SIZES = ('default', 'proportional')
SIZE_SCALE = {'swin-mini': 24 / 128, 'vit-mini': 96 / 768}
WIDTH_OPTIONS = {'Mona': ('bottleneck', ), 'LoRA': ('rank', ), 'E3VA': ('rank', ), 'Adapter': ('bottleneck', ),
                 'AdaptFormer': ('bottleneck', ), 'LoRand': ('rank', ), 'CoLin': ('inner_dim', 'rank')}


def method_options(backbone: str, method: str, sizes: str = 'default') -> Dict[str, int]:
    """The options that ``sizes`` gives ``method`` on ``backbone`` (none: the method's defaults)."""
    if sizes not in SIZES:
        raise PlanError(f'unknown sizes {sizes!r}; valid choices: {", ".join(SIZES)}')
    if sizes == 'default' or method not in WIDTH_OPTIONS:
        return {}
    from ..registry import PETL_METHODS
    PETL_METHODS.import_from_location()
    defaults = PETL_METHODS.get(method).with_defaults()
    return {option: max(1, int(round(defaults[option] * SIZE_SCALE[backbone]))) for option in WIDTH_OPTIONS[method]}


def _cls_data(root: str) -> None:
    make_toy_imagenet(root, num_train=50, num_val=40, size=64, seed=1, styles=('filled', 'outline'))


def _coco_data(root: str) -> None:
    make_toy_coco(root, num_train=48, num_val=24, size=128, seed=1)


def _ade20k_data(root: str) -> None:
    make_toy_ade20k(root, num_train=48, num_val=24, size=128, seed=1)


@dataclass
class Task:
    """A downstream task of the study."""
    name: str
    title: str
    configs: Dict[str, str]  # backbone -> config, relative to the repository
    folder: str  # the dataset's folder under the study's data root
    make_data: Callable[[str], None]
    expected: Tuple[str, ...]  # files or folders that a complete dataset has, relative to its folder
    metrics: Tuple[Tuple[str, str], ...]  # (metric key, column title); the first is the task's headline metric
    scale: float = 1.0  # a metric in [0, 1] is shown x scale
    # backbone -> the methods the task's head can take on it (None: all)
    fits: Dict[str, Optional[Tuple[str, ...]]] = field(default_factory=dict)
    # (backbone, method) -> cfg-options for that pair
    overrides: Dict[Tuple[str, str], Dict] = field(default_factory=dict)


TASKS = {
    'cls': Task(
        'cls', 'classification of 6 shape classes unseen in pretraining (50 training images per class, 64 px)',
        {'swin-mini': 'configs/transfer/swin-mini_toy-shapes-cls.py',
         'vit-mini': 'configs/transfer/vit-mini_toy-shapes-cls.py'},
        'toy_shapes_cls', _cls_data, ('train/rectangle_outline', 'val/triangle_filled'),
        (('accuracy/top1', 'top-1 (%)'), ), scale=1.0,
        overrides={('vit-mini', 'HST'): {'model.backbone.method.out_type': 'pooled', 'model.neck.input_features': 72,
                                          'model.head.in_channels': 72}}),
    'coco': Task(
        'coco', 'instance segmentation on toy COCO (Mask R-CNN, 48 training images, 128 px)',
        {'swin-mini': 'configs/transfer/mask-rcnn_swin-mini_fpn_toy-coco.py',
         'vit-mini': 'configs/transfer/mask-rcnn_vit-mini-hst_fpn_toy-coco.py'},
        'toy_coco', _coco_data, ('annotations/instances_train.json', 'annotations/instances_val.json', 'val'),
        (('coco/bbox_mAP', 'box AP'), ('coco/segm_mAP', 'mask AP')), scale=100.0,
        fits={'vit-mini': ('HST', )}),
    'ade20k': Task(
        'ade20k', 'semantic segmentation on toy ADE20K (UperNet, 48 training images, 128 px)',
        {'swin-mini': 'configs/transfer/upernet_swin-mini_toy-ade20k.py',
         'vit-mini': 'configs/transfer/upernet_vit-mini-hst_toy-ade20k.py'},
        'toy_ade20k', _ade20k_data, ('images/training', 'annotations/validation'),
        (('mIoU', 'mIoU'), ), scale=1.0,
        fits={'vit-mini': ('HST', )}),
}
NOT_FITTING = ('a plain ViT gives one feature map; this task\'s neck needs four, and only HST makes them (a '
               'multi-scale neck for plain ViTs is not part of the study)')


@dataclass(frozen=True)
class Row:
    """A backbone, a method (with options of its own where given) and an initialisation."""
    backbone: str
    method: str  # a PETL method type
    init: str = 'pretrained'  # or 'random'
    options: Tuple[Tuple[str, Any], ...] = ()  # method options set by the spec: (('bias_init', 'zeros'), )

    @property
    def label(self) -> str:
        return Run('', self, 0, 0).label

    @classmethod
    def parse(cls, backbone: str, spec: str) -> 'Row':
        """``METHOD[:OPTION=VALUE[,OPTION=VALUE...]][@INIT]``: ``Fixed@random``, ``LoRand:bias_init=zeros``,
        ``Mona:bottleneck=8@random``. A value is read as a Python literal where it is one (``8``, ``0.1``), else as
        a string."""
        method, _, init = spec.partition('@')
        method, colon, given = method.partition(':')
        options = []
        for item in given.split(',') if colon else []:
            name, equals, value = item.partition('=')
            if not equals or not name or not value:
                raise PlanError(f'method {spec!r}: give its options as METHOD:OPTION=VALUE[,OPTION=VALUE...], '
                                'e.g. LoRand:bias_init=zeros')
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                pass
            value = tuple(value) if isinstance(value, list) else value
            if not isinstance(value, (str, int, float, tuple, type(None))):
                raise PlanError(f'method {spec!r}: option {name} must be a number, a string, a list or None')
            options.append((name, value))
        return cls(backbone, method, init or 'pretrained', tuple(options))


@dataclass(frozen=True)
class Run:
    task: str
    row: Row
    seed: int
    max_iters: int
    sizes: str = 'default'

    @property
    def size_options(self) -> Dict[str, int]:
        """The method options that ``sizes`` sets (none where the run is the same at every size)."""
        return method_options(self.row.backbone, self.row.method, self.sizes)

    @property
    def options(self) -> Dict[str, Any]:
        """Every method option of the run: those of ``sizes``, then the row's own (which win)."""
        return dict(self.size_options, **dict(self.row.options))

    @property
    def key(self) -> str:
        """The run's name in the study's JSON. A run whose method is the same at every size (Full, Fixed, BitFit,
        HST, ...; or whose row sets every option that sizes would) has one key for all sizes: a study of other sizes
        resumed from this one reuses it."""
        method = self.row.method + (':' + ','.join(f'{k}={v}' for k, v in self.row.options) if self.row.options
                                    else '')
        key = f'{self.task}/{self.row.backbone}/{method}@{self.row.init}/seed{self.seed}/{self.max_iters}it'
        sized = set(self.size_options) - {name for name, _ in self.row.options}
        return f'{key}/{self.sizes}' if sized else key

    @property
    def label(self) -> str:
        """The method with the options the run sets and its initialisation where random: ``Mona``, ``Mona
        (bottleneck 12)``, ``LoRand (bias_init zeros)``, ``Fixed (random init)``."""
        parts = [f'{name} {value}' for name, value in self.options.items()]
        parts += ['random init'] if self.row.init == 'random' else []
        return f'{self.row.method} ({", ".join(parts)})' if parts else self.row.method

    @property
    def method_cfg(self) -> Dict:
        """``model.backbone.method`` of this run."""
        return dict(type=self.row.method, **self.options)


class PlanError(ValueError):
    """Bad input to the study, found before anything trains."""


def check_choice(kind: str, values: Sequence[str], valid: Sequence[str]) -> None:
    unknown = [v for v in values if v not in valid]
    if unknown:
        raise PlanError(f'unknown {kind} {", ".join(map(repr, unknown))}; valid choices: {", ".join(valid)}')


def dataset_problem(task: Task, data_root: str) -> Optional[str]:
    """None when the task's dataset under ``data_root`` is complete, else what is missing."""
    folder = osp.join(data_root, task.folder)
    missing = [p for p in task.expected if not osp.exists(osp.join(folder, p))]
    return None if not missing else f'{folder} lacks {", ".join(missing)}'


def row_fits(task: Task, row: Row) -> bool:
    fits = task.fits.get(row.backbone)
    return fits is None or row.method in fits


def config_path(task: Task, backbone: str) -> str:
    return osp.join(ROOT, task.configs[backbone])


@functools.lru_cache(maxsize=None)
def task_config(task: str, backbone: str):
    """The config of ``task`` on ``backbone`` as the repository has it, read once per process: the plan's checks
    read it many times (shared: read it, never change it; a run changes a config of its own)."""
    from mmengine.config import Config
    return Config.fromfile(config_path(TASKS[task], backbone))


@functools.lru_cache(maxsize=None)
def attach_problem(row: Row, sizes: str = 'default') -> Optional[str]:
    """None when the row's method (with its options and those of ``sizes``) attaches to its backbone, else why not:
    the PETL backbone of the cls task's config is built, without weights, once per process for each row and sizes."""
    from ..models.petl_backbone import build_petl_backbone
    try:
        build_petl_backbone(backbone=task_config('cls', row.backbone).model.backbone.backbone,
                            method=Run('cls', row, 0, 0, sizes).method_cfg)
    except (ValueError, TypeError) as err:
        return str(err).splitlines()[0]
    return None
