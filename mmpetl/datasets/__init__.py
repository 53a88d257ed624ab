from .star import STAR_CLASSES
from .toy_data import (TOY_CLASSES, TOY_DATASETS, TOY_STAR_CLASSES, make_toy_ade20k, make_toy_coco, make_toy_dota,
                       make_toy_imagenet, make_toy_star, make_toy_voc)
from .upstream_data import (UPSTREAM_CLASSES, UPSTREAM_SCENE_CLASSES, make_upstream_image, make_upstream_scene,
                            make_upstream_scenes, make_upstream_shapes)

__all__ = ['STAR_CLASSES', 'TOY_CLASSES', 'TOY_STAR_CLASSES', 'TOY_DATASETS', 'make_toy_coco', 'make_toy_ade20k',
           'make_toy_voc', 'make_toy_dota', 'make_toy_star', 'make_toy_imagenet', 'UPSTREAM_CLASSES',
           'UPSTREAM_SCENE_CLASSES', 'make_upstream_image', 'make_upstream_shapes', 'make_upstream_scene',
           'make_upstream_scenes']
