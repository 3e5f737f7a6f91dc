"""Multiparametric MRI for the CD8 trial (issue 19): DCE tracer-kinetic fits (dcmri), IVIM, diffusion kurtosis and
ADC of tables of curves; image-level stages build on these."""
