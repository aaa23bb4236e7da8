// glibc's malloc_trim, which Swift's Glibc module does not export: the server hands
// memory freed by departed clients back to the system with it.
#include <malloc.h>
