"""Archive in, archive out (issue 18): the studies of a sample sheet fetched from a DICOMweb server (QIDO-RS,
WADO-RS with dicomweb-client) or a DIMSE peer (C-FIND and C-GET with pynetdicom) into the data root, and the
DICOM outputs stored back (STOW-RS or C-STORE)."""
