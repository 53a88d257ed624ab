from .toy_data import TOY_CLASSES, make_toy_coco

__all__ = ['TOY_CLASSES', 'make_toy_coco']
