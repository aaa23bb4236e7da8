// glibc's malloc_trim, which Swift's Glibc module does not export: the server and the
// gateway hand memory freed by departed clients and peers back to the system with it.
#include <malloc.h>
