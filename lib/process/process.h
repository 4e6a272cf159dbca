/*
 * process.h - a root's links to its process: systemd notification
 * (notify.c) and stopping on signals (signals.c).
 */
#ifndef SUPV_PROCESS_H
#define SUPV_PROCESS_H

#include "core/core.h"

/* notify.c, signals.c: a root's links to its process */
void supv__notify_open(struct supv *root);
void supv__notify_started(struct supv *root);
void supv__notify_stopping(struct supv *root, enum supv_exit_kind why);
void supv__notify_free(struct supv *root);
void supv__sigstop_free(struct supv *root);

#endif
