# Two commands do all of the set-up on a fresh machine (see README):
#   make demo   install what is missing, then train + evaluate Mona on the toy COCO data (CPU, a few minutes)
#   make test   install what is missing, then run the test suite
PYTHON_VENV := .venv/bin/python

.PHONY: setup demo test
setup:
	@bash tools/setup_env.sh

demo: setup
	$(PYTHON_VENV) tools/demo.py

test: setup
	$(PYTHON_VENV) -m pytest tests
