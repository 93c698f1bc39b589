/* Unit tests of json/xlsx_out.h: a workbook written to an unnamed file in the export
 * directory comes back as a readable descriptor of a zip (the XLSX container) and leaves
 * no file behind; rows past the sheet's end are refused. (The cells themselves are read
 * back by openpyxl and LibreOffice in tests/api/test_exports_xlsx.py.) */
#include "check.h"
#include "json/xlsx_out.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct xlsx_col cols[] = {
    {"uscc", "统一社会信用代码", XK_TEXT},
    {"amount", "金额（元）", XK_MONEY},
    {"day", "日期", XK_DATE},
    {"at", "时间", XK_TIMESTAMP},
    {"n", "笔数", XK_INT},
    {"ok", "达标", XK_BOOL},
};

static int files_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

static void test_workbook_comes_back_as_an_unlinked_zip(void)
{
	char dir[] = "/tmp/finreg-xlsx-unit-XXXXXX";
	const char *text[] = {"914403001922038216",
			      "1200.50",
			      "2020-03-01",
			      "2020-03-01T08:09:10.123456+08:00",
			      "3",
			      "t"};
	const char *bad[] = {"=HYPERLINK(\"x\")", "not money", "2020-02-30x", NULL, "", "maybe"};
	json_t *row = json_pack("{s:s, s:s, s:s, s:n, s:i, s:b}", "uscc", "@x", "amount", "-5.00",
				"day", "2021-12-31", "at", "n", 7, "ok", 0);
	struct xlsx_out *x;
	long long size = 0;
	char head[4] = {0};
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	xlsx_set_tmpdir(dir);
	x = xlsx_open("表", cols, 6);
	CHECK(x != NULL);
	if (x == NULL)
		return;
	CHECK(xlsx_text_row(x, text));
	CHECK(xlsx_text_row(x, bad));
	CHECK(xlsx_json_row(x, row));
	CHECK(xlsx_rows(x) == 3);
	fd = xlsx_finish(x, &size);
	CHECK(fd >= 0);
	CHECK(size > 1000);
	CHECK(read(fd, head, 4) == 4 && memcmp(head, "PK\x03\x04", 4) == 0);
	CHECK(files_in(dir) == 0);
	close(fd);
	json_decref(row);
	x = xlsx_open("表", cols, 6);
	xlsx_discard(x);
	CHECK(files_in(dir) == 0);
	rmdir(dir);
	xlsx_set_tmpdir(NULL);
}

static void test_a_missing_directory_fails_cleanly(void)
{
	xlsx_set_tmpdir("/nonexistent/finreg");
	CHECK(xlsx_open("表", cols, 6) == NULL);
	xlsx_set_tmpdir(NULL);
}

int main(void)
{
	RUN(test_workbook_comes_back_as_an_unlinked_zip);
	RUN(test_a_missing_directory_fails_cleanly);
	return CHECK_SUMMARY();
}
