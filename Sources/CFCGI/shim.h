#ifndef SOLSTICE_CFCGI_SHIM_H
#define SOLSTICE_CFCGI_SHIM_H
// libfcgi's reentrant API (FCGX_*): one FCGX_Request per worker thread.
#include <fcgiapp.h>
#endif
