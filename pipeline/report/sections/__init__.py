"""The sections of the reports, one module each: ``SECTION`` (:class:`~pipeline.report.render.Section`) builds
its part of the template context; its template fragment is ``templates/sections/<name>.html.j2``.

Patient report: header, quality, mips, lesions, organs, changes, time_course, response, heterogeneity, pathology,
kinetics, pk.
Cohort report: overview, biodistribution, cohort_response, cohort_timecourse, statistics (estimates with
95 % CI), figures, appendix.
"""
