// Open MPI (Debian's libopenmpi-dev), used by SSLDistributed when the package is built with
// `--traits MPI`. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are macros over
// the addresses of library globals, which Swift does not import; these functions return them.
#include <mpi.h>

static inline MPI_Comm ssl_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype ssl_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype ssl_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op ssl_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op ssl_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op ssl_mpi_min(void) { return MPI_MIN; }
static inline int ssl_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int ssl_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline MPI_Info ssl_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline int ssl_mpi_max_library_version_string(void) { return MPI_MAX_LIBRARY_VERSION_STRING; }
static inline int ssl_ompi_major_version(void) { return OMPI_MAJOR_VERSION; }
static inline int ssl_ompi_minor_version(void) { return OMPI_MINOR_VERSION; }
static inline void *ssl_mpi_in_place(void) { return MPI_IN_PLACE; }
