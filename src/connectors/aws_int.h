/* Internals shared by the AWS signer (sigv4.c), which owns the credentials, and the clients
 * that report what a service answered (dynamodb.c). */
#ifndef WEIR_CONNECTORS_AWS_INT_H
#define WEIR_CONNECTORS_AWS_INT_H

#include "weir/aws.h"

/*
 * Masks with "***", in place, every credential of `creds` in the NUL-terminated `s`, which
 * never grows: each occurrence of the access key id, the secret key and the session token,
 * also any piece of 16 characters or more of one of them (an echo cut short), and the hex
 * digits after each "Signature=" (an echoed Authorization header). Call it on the whole text
 * before cutting it to a buffer: a cut credential is no longer found whole. Thread-safe.
 */
void weir__aws_creds_mask(const weir_aws_creds *creds, char *s);

#endif
