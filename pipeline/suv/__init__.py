"""SUV engine: nuclide table, decay kernel, body-size normalisers, vendor rules and SUV factors.

Modules: ``nuclides`` (half-lives, CID 4020 codes), ``decay`` (the one decay kernel, T_ave),
``body`` (LBM, IBW, BSA), ``header`` (series attributes, private creators, R33), ``halflife``
(R31/R32), ``reftime`` (reference-time candidates, R14-R20), ``dose`` (injection time, dose,
dosing tables, R22-R27), ``options`` (SuvOptions, SuvResult) and ``factors`` (the entry point
:func:`pipeline.suv.factors.compute_suv`, rules R1-R39 of ``reference/suv.md``).
"""
