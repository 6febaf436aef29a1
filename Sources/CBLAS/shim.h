// OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
#include <cblas.h>
#include <stddef.h>

// The Fortran LAPACK routines OpenBLAS also exports (no LAPACKE header is needed). Arguments
// are passed by reference, matrices column-major; the trailing size_t arguments are the hidden
// lengths gfortran passes for CHARACTER arguments (1 for every flag here).

// Selected eigenvalues and eigenvectors of a real symmetric matrix (MRRR).
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
             const int *lda, const double *vl, const double *vu, const int *il, const int *iu,
             const double *abstol, int *m, double *w, double *z, const int *ldz, int *isuppz,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t range_len, size_t uplo_len);

// Minimum-norm least squares min |B - A X| by a divide-and-conquer SVD of A.
void dgelsd_(const int *m, const int *n, const int *nrhs, double *a, const int *lda, double *b,
             const int *ldb, double *s, const double *rcond, int *rank, double *work,
             const int *lwork, int *iwork, int *info);
