"""The GAIN-MTL network (design sections 2 and 5), one module per file.

Import the pieces from their own modules (``gain_mtl.models.network.GainMTL``); this package file
stays empty so that importing one small module does not pull in timm.
"""
