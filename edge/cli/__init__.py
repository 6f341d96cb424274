"""The camera's commands (``run``, ``bench``, ``keygen``), mounted by ``gainctl``.

They live in ``edge`` so that the commands a camera runs import nothing from the training side;
``gainctl`` (``gain_mtl.cli``) lists them beside ``train``, ``eval`` and ``export`` and adds what
only the training side can give (the PyTorch reference row of ``bench``).
"""
