"""mmpetl's registry nodes.

Each node is a child of the matching mmengine root, so that any OpenMMLab 2.x config (mmdet, mmseg, mmpretrain,
mmrotate) can name an mmpetl module as ``type='mmpetl.<Name>'`` without ``custom_imports``: mmengine resolves the
``mmpetl.`` prefix by importing ``mmpetl.registry`` and then the modules listed in ``locations``.

``PETL_METHODS`` is mmpetl's own root: the parameter-efficient methods that :func:`mmpetl.models.PETLBackbone` attaches
to an upstream backbone (``method=dict(type='Mona')``).
"""
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['mmpetl.models'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['mmpetl.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      locations=['mmpetl.engine'])

METRICS = Registry('metric', parent=MMENGINE_METRICS, locations=['mmpetl.evaluation'])  # imports mmrotate

PETL_METHODS = Registry('petl method', scope='mmpetl', locations=['mmpetl.models.methods'])
