"""The sections of the reports, one module each: ``SECTION`` (:class:`~pipeline.report.render.Section`) builds
its part of the template context; its template fragment is ``templates/sections/<name>.html.j2``.

Patient report: header, quality, mips, lesions, organs, changes, response, heterogeneity, pathology, kinetics.
Cohort report: overview, biodistribution, cohort_response, statistics, figures.
"""
