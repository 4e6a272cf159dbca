/*
 * pools.h - pools of identical workers (workerpool.c), and their ids
 * "<base>.<index>", which task pools use too.
 */
#ifndef SUPV_POOLS_H
#define SUPV_POOLS_H

#include "core/core.h"

/* workerpool.c: ids "<base>.<index>", written and read in one place */
unsigned supv__digits(unsigned n);
void  supv__indexed_id(char dst[SUPV_ID_MAX + 1], const char *base,
    unsigned index);
bool  supv__indexed_id_index(const char *id, unsigned *index);

#endif
