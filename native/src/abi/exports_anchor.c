/* The shared library is ft5_core linked whole; this file only gives the target a source of its own. */
#include "ft5/ft5.h"
