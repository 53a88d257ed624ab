from setuptools import find_packages, setup


def version():
    scope = {}
    with open('mmpetl/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmpetl',
    version=version(),
    description='Parameter-efficient transfer learning (Mona, E3VA, HST and baselines) for OpenMMLab 2.x backbones',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmpetl', 'mmpetl.*']),
    python_requires='>=3.8',
    # Ranges a user's own environment must satisfy; the exact tested versions are pinned in requirements/pins.txt.
    # torch >= 2.6: torch.serialization.safe_globals with (object, name) pairs and get_unsafe_globals_in_checkpoint,
    # which mmpetl's safe checkpoint loading uses (mmpetl/utils/checkpoint.py).
    install_requires=['torch>=2.6', 'mmengine>=0.10.0,<1.0', 'mmcv>=2.0.0,<2.2.0', 'numpy', 'opencv-python',
                      'safetensors>=0.4'],
    extras_require={
        'det': ['mmdet>=3.0.0,<3.4.0'],
        'seg': ['mmsegmentation>=1.0.0', 'ftfy', 'regex'],
        'cls': ['mmpretrain>=1.0.0'],
        'tests': ['pytest'],
    },
    license='Apache-2.0',
    zip_safe=False,
)
