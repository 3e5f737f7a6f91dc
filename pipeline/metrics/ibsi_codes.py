"""IBSI names and permanent 4-character codes for petvoi's radiomics features.

Sources: IBSI reference manual (theibsi/ibsi-doc ``docs/03_Image_features.rst``; Zwanenburg et al.,
Radiology 2020;295:328, arXiv:1612.07003) and DICOM PS3.16 CIDs 7467-7501 for the codes the rst gets wrong or
omits: 10th/90th discretised-intensity percentiles are GPMT/OZ0C, GLSZM small zone emphasis is 5QRC.

Naming convention (shared with :mod:`pipeline.metrics.ibsi`): a petvoi feature is called
``{family}_{feature}_{aggregation}`` in snake case, e.g. ``glcm_joint_entropy_3D_comb``, where ``family`` and
``feature`` are the names used in :data:`IBSI_3D_FEATURES` (and in ``tests/data/ibsi1_digital_phantom_reference.csv``)
and ``aggregation`` is ``3D`` for single-matrix/volume families, ``3D_avg`` (features averaged over the 13 directions)
or ``3D_comb`` (directional matrices merged) for GLCM and GLRLM.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "IbsiTarget",
    "IBSI_3D_FEATURES",
    "ALL_IBSI_3D_CODES",
    "PYRADIOMICS_TO_IBSI",
    "PYRADIOMICS_NON_IBSI",
    "DIRECTIONAL_FAMILIES",
    "ibsi_code",
    "all_ibsi_3d_codes",
]


class IbsiTarget(NamedTuple):
    """One IBSI feature: family, petvoi feature name (without aggregation) and 4-character code."""

    family: str
    feature: str
    code: str


# Families whose features depend on how the 13 directional matrices are aggregated (3D_avg / 3D_comb).
DIRECTIONAL_FAMILIES = frozenset({"glcm", "glrlm"})

# Every IBSI feature that can be computed in 3D, by family: feature name -> code. 172 features; intensity-volume
# histogram V10/V90 share BC2M and I10/I90 share GBPN (parameterised features), so codes are counted once.
IBSI_3D_FEATURES: dict[str, dict[str, str]] = {
    "morphology": {
        "volume_mesh": "RNU0", "volume_voxel_counting": "YEKZ", "surface_area_mesh": "C0JK",
        "surface_to_volume_ratio": "2PR5", "compactness_1": "SKGS", "compactness_2": "BQWJ",
        "spherical_disproportion": "KRCK", "sphericity": "QCFX", "asphericity": "25C7",
        "centre_of_mass_shift": "KLMA", "maximum_3d_diameter": "L0JK", "major_axis_length": "TDIC",
        "minor_axis_length": "P9VJ", "least_axis_length": "7J51", "elongation": "Q3CK", "flatness": "N17B",
        "volume_density_aabb": "PBX1", "area_density_aabb": "R59B", "volume_density_ombb": "ZH1A",
        "area_density_ombb": "IQYR", "volume_density_aee": "6BDE", "area_density_aee": "RDD2",
        "volume_density_mvee": "SWZ1", "area_density_mvee": "BRI8", "volume_density_convex_hull": "R3ER",
        "area_density_convex_hull": "7T7F", "integrated_intensity": "99N0", "morans_i_index": "N365",
        "gearys_c_measure": "NPT7",
    },
    "local_intensity": {"local_intensity_peak": "VJGA", "global_intensity_peak": "0F91"},
    "intensity_statistics": {
        "mean": "Q4LE", "variance": "ECT3", "skewness": "KE2A", "excess_kurtosis": "IPH6", "median": "Y12H",
        "minimum": "1GSF", "10th_percentile": "QG58", "90th_percentile": "8DWT", "maximum": "84IY",
        "interquartile_range": "SALO", "range": "2OJQ", "mean_absolute_deviation": "4FUA",
        "robust_mean_absolute_deviation": "1128", "median_absolute_deviation": "N72L",
        "coefficient_of_variation": "7TET", "quartile_coefficient_of_dispersion": "9S40", "energy": "N8CA",
        "root_mean_square": "5ZWQ",
    },
    "intensity_histogram": {
        "mean": "X6K6", "variance": "CH89", "skewness": "88K1", "excess_kurtosis": "C3I7", "median": "WIFQ",
        "minimum": "1PR8", "10th_percentile": "GPMT", "90th_percentile": "OZ0C", "maximum": "3NCY", "mode": "AMMC",
        "interquartile_range": "WR0O", "range": "5Z3W", "mean_absolute_deviation": "D2ZX",
        "robust_mean_absolute_deviation": "WRZB", "median_absolute_deviation": "4RNL",
        "coefficient_of_variation": "CWYJ", "quartile_coefficient_of_dispersion": "SLWD", "entropy": "TLU2",
        "uniformity": "BJ5W", "maximum_histogram_gradient": "12CE", "maximum_histogram_gradient_intensity": "8E6O",
        "minimum_histogram_gradient": "VQB3", "minimum_histogram_gradient_intensity": "RHQZ",
    },
    "ivh": {
        "volume_at_intensity_fraction_10": "BC2M", "volume_at_intensity_fraction_90": "BC2M",
        "intensity_at_volume_fraction_10": "GBPN", "intensity_at_volume_fraction_90": "GBPN",
        "volume_fraction_difference_10_90": "DDTU", "intensity_fraction_difference_10_90": "CNV2",
        "area_under_ivh_curve": "9CMM",
    },
    "glcm": {
        "joint_maximum": "GYBY", "joint_average": "60VM", "joint_variance": "UR99", "joint_entropy": "TU9B",
        "difference_average": "TF7R", "difference_variance": "D3YU", "difference_entropy": "NTRS",
        "sum_average": "ZGXS", "sum_variance": "OEEB", "sum_entropy": "P6QZ", "angular_second_moment": "8ZQL",
        "contrast": "ACUI", "dissimilarity": "8S9J", "inverse_difference": "IB1Z",
        "normalised_inverse_difference": "NDRX", "inverse_difference_moment": "WF0Z",
        "normalised_inverse_difference_moment": "1QCO", "inverse_variance": "E8JP", "correlation": "NI2N",
        "autocorrelation": "QWB0", "cluster_tendency": "DG8W", "cluster_shade": "7NFM",
        "cluster_prominence": "AE86", "information_correlation_1": "R8DG", "information_correlation_2": "JN9H",
    },
    "glrlm": {
        "short_runs_emphasis": "22OV", "long_runs_emphasis": "W4KF", "low_grey_level_run_emphasis": "V3SW",
        "high_grey_level_run_emphasis": "G3QZ", "short_run_low_grey_level_emphasis": "HTZT",
        "short_run_high_grey_level_emphasis": "GD3A", "long_run_low_grey_level_emphasis": "IVPO",
        "long_run_high_grey_level_emphasis": "3KUM", "grey_level_non_uniformity": "R5YN",
        "normalised_grey_level_non_uniformity": "OVBL", "run_length_non_uniformity": "W92Y",
        "normalised_run_length_non_uniformity": "IC23", "run_percentage": "9ZK5", "grey_level_variance": "8CE5",
        "run_length_variance": "SXLW", "run_entropy": "HJ9O",
    },
    "glszm": {
        "small_zone_emphasis": "5QRC", "large_zone_emphasis": "48P8", "low_grey_level_zone_emphasis": "XMSY",
        "high_grey_level_zone_emphasis": "5GN9", "small_zone_low_grey_level_emphasis": "5RAI",
        "small_zone_high_grey_level_emphasis": "HW1V", "large_zone_low_grey_level_emphasis": "YH51",
        "large_zone_high_grey_level_emphasis": "J17V", "grey_level_non_uniformity": "JNSA",
        "normalised_grey_level_non_uniformity": "Y1RO", "zone_size_non_uniformity": "4JP3",
        "normalised_zone_size_non_uniformity": "VB3A", "zone_percentage": "P30P", "grey_level_variance": "BYLV",
        "zone_size_variance": "3NSA", "zone_size_entropy": "GU8N",
    },
    "gldzm": {
        "small_distance_emphasis": "0GBI", "large_distance_emphasis": "MB4I", "low_grey_level_zone_emphasis": "S1RA",
        "high_grey_level_zone_emphasis": "K26C", "small_distance_low_grey_level_emphasis": "RUVG",
        "small_distance_high_grey_level_emphasis": "DKNJ", "large_distance_low_grey_level_emphasis": "A7WM",
        "large_distance_high_grey_level_emphasis": "KLTH", "grey_level_non_uniformity": "VFT7",
        "normalised_grey_level_non_uniformity": "7HP3", "zone_distance_non_uniformity": "V294",
        "normalised_zone_distance_non_uniformity": "IATH", "zone_percentage": "VIWW", "grey_level_variance": "QK93",
        "zone_distance_variance": "7WT1", "zone_distance_entropy": "GBDU",
    },
    "ngtdm": {"coarseness": "QCDE", "contrast": "65HE", "busyness": "NQ30", "complexity": "HDEZ", "strength": "1X9X"},
    "ngldm": {
        "low_dependence_emphasis": "SODN", "high_dependence_emphasis": "IMOQ",
        "low_grey_level_count_emphasis": "TL9H", "high_grey_level_count_emphasis": "OAE7",
        "low_dependence_low_grey_level_emphasis": "EQ3F", "low_dependence_high_grey_level_emphasis": "JA6D",
        "high_dependence_low_grey_level_emphasis": "NBZI", "high_dependence_high_grey_level_emphasis": "9QMG",
        "grey_level_non_uniformity": "FP8K", "normalised_grey_level_non_uniformity": "5SPA",
        "dependence_count_non_uniformity": "Z87G", "normalised_dependence_count_non_uniformity": "OKJI",
        "dependence_count_percentage": "6XV8", "grey_level_variance": "1PFV", "dependence_count_variance": "DNX2",
        "dependence_count_entropy": "FCBV", "dependence_count_energy": "CAS9",
    },
}

# The coverage denominator: distinct IBSI codes of every 3D-computable feature, by family.
ALL_IBSI_3D_CODES: dict[str, frozenset[str]] = {
    fam: frozenset(feats.values()) for fam, feats in IBSI_3D_FEATURES.items()
}


def _t(family: str, *features: str) -> tuple[IbsiTarget, ...]:
    return tuple(IbsiTarget(family, f, IBSI_3D_FEATURES[family][f]) for f in features)


# pyradiomics feature (``class_Feature``) -> the IBSI feature(s) it equals. A pyradiomics feature equal to two IBSI
# features (e.g. DifferenceAverage = difference average = dissimilarity) is reported under both names.
# firstorder Entropy/Uniformity are only mapped when computed on the petvoi-discretised image (intensity histogram).
PYRADIOMICS_TO_IBSI: dict[str, tuple[IbsiTarget, ...]] = {
    # shape (morphology); axis lengths get the sqrt(N/(N-1)) correction in texture.py
    "shape_MeshVolume": _t("morphology", "volume_mesh"),
    "shape_VoxelVolume": _t("morphology", "volume_voxel_counting"),
    "shape_SurfaceArea": _t("morphology", "surface_area_mesh"),
    "shape_SurfaceVolumeRatio": _t("morphology", "surface_to_volume_ratio"),
    "shape_Sphericity": _t("morphology", "sphericity"),
    "shape_Maximum3DDiameter": _t("morphology", "maximum_3d_diameter"),
    "shape_MajorAxisLength": _t("morphology", "major_axis_length"),
    "shape_MinorAxisLength": _t("morphology", "minor_axis_length"),
    "shape_LeastAxisLength": _t("morphology", "least_axis_length"),
    "shape_Elongation": _t("morphology", "elongation"),
    "shape_Flatness": _t("morphology", "flatness"),
    # firstorder on the un-discretised intensities (intensity statistics); Kurtosis gets -3 in texture.py
    "firstorder_Mean": _t("intensity_statistics", "mean"),
    "firstorder_Variance": _t("intensity_statistics", "variance"),
    "firstorder_Skewness": _t("intensity_statistics", "skewness"),
    "firstorder_Kurtosis": _t("intensity_statistics", "excess_kurtosis"),
    "firstorder_Median": _t("intensity_statistics", "median"),
    "firstorder_Minimum": _t("intensity_statistics", "minimum"),
    "firstorder_10Percentile": _t("intensity_statistics", "10th_percentile"),
    "firstorder_90Percentile": _t("intensity_statistics", "90th_percentile"),
    "firstorder_Maximum": _t("intensity_statistics", "maximum"),
    "firstorder_InterquartileRange": _t("intensity_statistics", "interquartile_range"),
    "firstorder_Range": _t("intensity_statistics", "range"),
    "firstorder_MeanAbsoluteDeviation": _t("intensity_statistics", "mean_absolute_deviation"),
    "firstorder_RobustMeanAbsoluteDeviation": _t("intensity_statistics", "robust_mean_absolute_deviation"),
    "firstorder_Energy": _t("intensity_statistics", "energy"),
    "firstorder_RootMeanSquared": _t("intensity_statistics", "root_mean_square"),
    # firstorder on the discretised image: intensity histogram (normalised NGLDM GLNU equals the uniformity)
    "firstorder_Entropy": _t("intensity_histogram", "entropy"),
    "firstorder_Uniformity": (
        _t("intensity_histogram", "uniformity") + _t("ngldm", "normalised_grey_level_non_uniformity")
    ),
    # glcm
    "glcm_MaximumProbability": _t("glcm", "joint_maximum"),
    "glcm_JointAverage": _t("glcm", "joint_average"),
    "glcm_SumSquares": _t("glcm", "joint_variance"),
    "glcm_JointEntropy": _t("glcm", "joint_entropy"),
    "glcm_DifferenceAverage": _t("glcm", "difference_average", "dissimilarity"),
    "glcm_DifferenceVariance": _t("glcm", "difference_variance"),
    "glcm_DifferenceEntropy": _t("glcm", "difference_entropy"),
    "glcm_SumAverage": _t("glcm", "sum_average"),
    "glcm_ClusterTendency": _t("glcm", "cluster_tendency", "sum_variance"),
    "glcm_SumEntropy": _t("glcm", "sum_entropy"),
    "glcm_JointEnergy": _t("glcm", "angular_second_moment"),
    "glcm_Contrast": _t("glcm", "contrast"),
    "glcm_Id": _t("glcm", "inverse_difference"),
    "glcm_Idn": _t("glcm", "normalised_inverse_difference"),
    "glcm_Idm": _t("glcm", "inverse_difference_moment"),
    "glcm_Idmn": _t("glcm", "normalised_inverse_difference_moment"),
    "glcm_InverseVariance": _t("glcm", "inverse_variance"),
    "glcm_Correlation": _t("glcm", "correlation"),
    "glcm_Autocorrelation": _t("glcm", "autocorrelation"),
    "glcm_ClusterShade": _t("glcm", "cluster_shade"),
    "glcm_ClusterProminence": _t("glcm", "cluster_prominence"),
    "glcm_Imc1": _t("glcm", "information_correlation_1"),
    "glcm_Imc2": _t("glcm", "information_correlation_2"),
    # glrlm
    "glrlm_ShortRunEmphasis": _t("glrlm", "short_runs_emphasis"),
    "glrlm_LongRunEmphasis": _t("glrlm", "long_runs_emphasis"),
    "glrlm_LowGrayLevelRunEmphasis": _t("glrlm", "low_grey_level_run_emphasis"),
    "glrlm_HighGrayLevelRunEmphasis": _t("glrlm", "high_grey_level_run_emphasis"),
    "glrlm_ShortRunLowGrayLevelEmphasis": _t("glrlm", "short_run_low_grey_level_emphasis"),
    "glrlm_ShortRunHighGrayLevelEmphasis": _t("glrlm", "short_run_high_grey_level_emphasis"),
    "glrlm_LongRunLowGrayLevelEmphasis": _t("glrlm", "long_run_low_grey_level_emphasis"),
    "glrlm_LongRunHighGrayLevelEmphasis": _t("glrlm", "long_run_high_grey_level_emphasis"),
    "glrlm_GrayLevelNonUniformity": _t("glrlm", "grey_level_non_uniformity"),
    "glrlm_GrayLevelNonUniformityNormalized": _t("glrlm", "normalised_grey_level_non_uniformity"),
    "glrlm_RunLengthNonUniformity": _t("glrlm", "run_length_non_uniformity"),
    "glrlm_RunLengthNonUniformityNormalized": _t("glrlm", "normalised_run_length_non_uniformity"),
    "glrlm_RunPercentage": _t("glrlm", "run_percentage"),
    "glrlm_GrayLevelVariance": _t("glrlm", "grey_level_variance"),
    "glrlm_RunVariance": _t("glrlm", "run_length_variance"),
    "glrlm_RunEntropy": _t("glrlm", "run_entropy"),
    # glszm
    "glszm_SmallAreaEmphasis": _t("glszm", "small_zone_emphasis"),
    "glszm_LargeAreaEmphasis": _t("glszm", "large_zone_emphasis"),
    "glszm_LowGrayLevelZoneEmphasis": _t("glszm", "low_grey_level_zone_emphasis"),
    "glszm_HighGrayLevelZoneEmphasis": _t("glszm", "high_grey_level_zone_emphasis"),
    "glszm_SmallAreaLowGrayLevelEmphasis": _t("glszm", "small_zone_low_grey_level_emphasis"),
    "glszm_SmallAreaHighGrayLevelEmphasis": _t("glszm", "small_zone_high_grey_level_emphasis"),
    "glszm_LargeAreaLowGrayLevelEmphasis": _t("glszm", "large_zone_low_grey_level_emphasis"),
    "glszm_LargeAreaHighGrayLevelEmphasis": _t("glszm", "large_zone_high_grey_level_emphasis"),
    "glszm_GrayLevelNonUniformity": _t("glszm", "grey_level_non_uniformity"),
    "glszm_GrayLevelNonUniformityNormalized": _t("glszm", "normalised_grey_level_non_uniformity"),
    "glszm_SizeZoneNonUniformity": _t("glszm", "zone_size_non_uniformity"),
    "glszm_SizeZoneNonUniformityNormalized": _t("glszm", "normalised_zone_size_non_uniformity"),
    "glszm_ZonePercentage": _t("glszm", "zone_percentage"),
    "glszm_GrayLevelVariance": _t("glszm", "grey_level_variance"),
    "glszm_ZoneVariance": _t("glszm", "zone_size_variance"),
    "glszm_ZoneEntropy": _t("glszm", "zone_size_entropy"),
    # ngtdm
    "ngtdm_Coarseness": _t("ngtdm", "coarseness"),
    "ngtdm_Contrast": _t("ngtdm", "contrast"),
    "ngtdm_Busyness": _t("ngtdm", "busyness"),
    "ngtdm_Complexity": _t("ngtdm", "complexity"),
    "ngtdm_Strength": _t("ngtdm", "strength"),
    # gldm (= IBSI NGLDM with alpha = 0, Chebyshev distance 1)
    "gldm_SmallDependenceEmphasis": _t("ngldm", "low_dependence_emphasis"),
    "gldm_LargeDependenceEmphasis": _t("ngldm", "high_dependence_emphasis"),
    "gldm_LowGrayLevelEmphasis": _t("ngldm", "low_grey_level_count_emphasis"),
    "gldm_HighGrayLevelEmphasis": _t("ngldm", "high_grey_level_count_emphasis"),
    "gldm_SmallDependenceLowGrayLevelEmphasis": _t("ngldm", "low_dependence_low_grey_level_emphasis"),
    "gldm_SmallDependenceHighGrayLevelEmphasis": _t("ngldm", "low_dependence_high_grey_level_emphasis"),
    "gldm_LargeDependenceLowGrayLevelEmphasis": _t("ngldm", "high_dependence_low_grey_level_emphasis"),
    "gldm_LargeDependenceHighGrayLevelEmphasis": _t("ngldm", "high_dependence_high_grey_level_emphasis"),
    "gldm_GrayLevelNonUniformity": _t("ngldm", "grey_level_non_uniformity"),
    "gldm_DependenceNonUniformity": _t("ngldm", "dependence_count_non_uniformity"),
    "gldm_DependenceNonUniformityNormalized": _t("ngldm", "normalised_dependence_count_non_uniformity"),
    "gldm_GrayLevelVariance": _t("ngldm", "grey_level_variance"),
    "gldm_DependenceVariance": _t("ngldm", "dependence_count_variance"),
    "gldm_DependenceEntropy": _t("ngldm", "dependence_count_entropy"),
}

# pyradiomics features with no IBSI definition: reported with an empty code under these petvoi names
# (family, feature). Why: 2D diameters are per-plane shape descriptors; StandardDeviation is redundant with the
# variance; TotalEnergy includes the voxel volume and voxelArrayShift; MCC (maximal correlation coefficient) is not
# in IBSI.
PYRADIOMICS_NON_IBSI: dict[str, tuple[str, str]] = {
    "shape_Maximum2DDiameterSlice": ("morphology", "maximum_2d_diameter_slice"),
    "shape_Maximum2DDiameterColumn": ("morphology", "maximum_2d_diameter_column"),
    "shape_Maximum2DDiameterRow": ("morphology", "maximum_2d_diameter_row"),
    "firstorder_StandardDeviation": ("intensity_statistics", "standard_deviation"),
    "firstorder_TotalEnergy": ("intensity_statistics", "total_energy"),
    "glcm_MCC": ("glcm", "maximal_correlation_coefficient"),
}


def ibsi_code(family: str, feature: str) -> str:
    """Return the IBSI code of ``family``/``feature`` (petvoi names, no aggregation), or ``""`` if not IBSI."""
    return IBSI_3D_FEATURES.get(family, {}).get(feature, "")


def all_ibsi_3d_codes() -> frozenset[str]:
    """Return the distinct IBSI codes of all 3D-computable IBSI features (the coverage denominator)."""
    return frozenset().union(*ALL_IBSI_3D_CODES.values())
