"""Diagnostics for any embeddings: density (RLD, CH), neighbours, probes, clusters, subspaces.

Names are loaded from their submodules on first use, so ``from contrastlab import analysis`` is
cheap and does not import faiss or scikit-learn until a diagnostic that needs them runs.
Inputs ``X, y`` accept numpy arrays or torch tensors.
"""

from __future__ import annotations

from contrastlab._lazy import lazy_names

# public name -> submodule that defines it
_NAMES: dict[str, str] = {
    # density.py: RLD (exact, blockwise), Calinski-Harabasz
    "rld": "density",
    "rld_profile": "density",
    "RLDProfile": "density",
    "calinski_harabasz": "density",
    "rld_knn": "density",
    "rld_weights": "density",
    # neighbours.py: faiss kNN, purity, weighted kNN classifier, Euclidean kNN of 2-D maps
    "neighbour_purity": "neighbours",
    "knn_classify": "neighbours",
    "knn_accuracy": "neighbours",
    "nearest_neighbours": "neighbours",
    "euclidean_knn_accuracy": "neighbours",
    # probes.py: linear probe, GCN label-propagation probe
    "linear_probe": "probes",
    "gcn_probe": "probes",
    "knn_probe": "probes",
    "ProbeResult": "probes",
    # diagnostics.py: every diagnostic of one embedding set in one call
    "diagnose": "diagnostics",
    "DiagnosticsResult": "diagnostics",
    "load_embeddings": "diagnostics",
    # clusters.py: cluster preservation metrics
    "cluster_preservation": "clusters",
    # subspaces.py: principal angles, captured fraction, containment, Fisher / LDA / PCA
    "subspace_alignment": "subspaces",
    "SubspaceAlignment": "subspaces",
    "principal_angles": "subspaces",
    "captured_fraction": "subspaces",
    "containment": "subspaces",
    "orthonormal_basis": "subspaces",
    "fisher_subspace": "subspaces",
    "lda_subspace": "subspaces",
    "mean_span_subspace": "subspaces",
    "pca_subspace": "subspaces",
    # collapse.py: alignment, uniformity (Wang and Isola), effective rank (RankMe)
    "alignment": "collapse",
    "uniformity": "collapse",
    "effective_rank": "collapse",
    "collapse_warning": "collapse",
    # graphs.py: similarity graphs, Laplacians, spectral embedding and clustering
    "planted_partition": "graphs",
    "bipartite_planted_partition": "graphs",
    "knn_graph": "graphs",
    "laplacian": "graphs",
    "bottom_eigenvectors": "graphs",
    "spectral_clustering": "graphs",
    "augmentation_graph": "graphs",
    "bipartite_spectral_embedding": "graphs",
    "kmeans_labels": "graphs",
}

__getattr__, __dir__, __all__ = lazy_names(__name__, _NAMES)
