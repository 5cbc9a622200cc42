#ifndef FERRY_CHIREDIS_SHIM_H
#define FERRY_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
