/* check_version.c - supv_version() and the header's version macros agree. */
#include <stdio.h>

#include "tests.h"

START_TEST(test_version)
{
	char want[32];

	snprintf(want, sizeof(want), "%d.%d.%d", SUPV_VERSION_MAJOR,
	    SUPV_VERSION_MINOR, SUPV_VERSION_PATCH);
	ck_assert_str_eq(SUPV_VERSION_STRING, want);
	ck_assert_ptr_nonnull(supv_version());
	ck_assert_str_eq(supv_version(), SUPV_VERSION_STRING);
}
END_TEST

Suite *
suite_version(void)
{
	Suite *s = suite_create("version");
	TCase *tc = tcase_create("version");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_version);
	suite_add_tcase(s, tc);
	return s;
}
