"""nlp_course: the tested package behind the course notebooks.

From one neuron (notebook 01) to a BERT-like encoder trained as a diffusion
text generator (notebook 11). Each module holds one idea; its docstring says
which notebook teaches it.
"""

__version__ = "0.1.0"
