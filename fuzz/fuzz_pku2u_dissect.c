/* libFuzzer target for the public PKU2U dissector (include/negoex/pku2u.h,
 * src/pku2u/dissect.c): the same bytes as a PKU2U GSS token and as metadata
 * of each kind. Nothing may crash; a failure reports no event and fills err
 * with the code and an offset inside the input; a success is a balanced
 * event sequence (one top BEGIN at depth 0 first, its END last, depth and
 * list indexes consistent, list counts honest) whose byte views and string
 * lists lie inside the input. */
#include <negoex/pku2u.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

#define MAX_DEPTH 64

typedef struct state {
    const uint8_t *in;
    size_t len;
    size_t events;
    unsigned depth;
    int closed; /* the top END was seen */
    int list[MAX_DEPTH];
    size_t count[MAX_DEPTH];
    size_t seen[MAX_DEPTH];
} state;

static void inside(const state *s, negoex_bytes b)
{
    if (b.data == NULL)
        return;
    CHECK(b.data >= s->in && b.len <= s->len && (size_t)(b.data - s->in) <= s->len - b.len);
}

static int check_event(void *ud, const negoex_dissect_event *ev)
{
    state *s = ud;

    CHECK(!s->closed);
    CHECK(ev->offset <= s->len);
    s->events++;
    if (ev->kind == NEGOEX_DISSECT_END) {
        CHECK(s->depth > 0);
        s->depth--;
        CHECK(ev->depth == s->depth);
        if (s->list[s->depth])
            CHECK(s->seen[s->depth] == s->count[s->depth]);
        if (s->depth == 0)
            s->closed = 1;
        return 0;
    }
    CHECK(ev->name != NULL && ev->depth == s->depth && s->depth < MAX_DEPTH - 1);
    if (s->depth == 0)
        CHECK(s->events == 1 && ev->kind == NEGOEX_DISSECT_BEGIN);
    else if (s->list[s->depth - 1])
        CHECK(ev->index == s->seen[s->depth - 1]++);
    inside(s, ev->bytes);
    switch (ev->kind) {
    case NEGOEX_DISSECT_BEGIN:
    case NEGOEX_DISSECT_BEGIN_LIST:
        s->list[s->depth] = ev->kind == NEGOEX_DISSECT_BEGIN_LIST;
        s->count[s->depth] = ev->count;
        s->seen[s->depth] = 0;
        s->depth++;
        break;
    case NEGOEX_DISSECT_OID:
    case NEGOEX_DISSECT_DN:
        CHECK(ev->text != NULL);
        (void)strlen(ev->text);
        break;
    case NEGOEX_DISSECT_FLAGS:
        CHECK(ev->label != NULL);
        (void)strlen(ev->label);
        break;
    case NEGOEX_DISSECT_PRINCIPAL:
        CHECK(ev->count >= 1 && ev->strings != NULL);
        for (size_t i = 0; i < ev->count; i++)
            inside(s, ev->strings[i]);
        break;
    case NEGOEX_DISSECT_INT_LIST:
        CHECK(ev->count >= 1 && ev->ints != NULL && ev->labels != NULL);
        for (size_t i = 0; i < ev->count; i++)
            if (ev->labels[i] != NULL)
                (void)strlen(ev->labels[i]);
        break;
    case NEGOEX_DISSECT_TIME:
        CHECK(ev->bytes.len == 15);
        break;
    default:
        break;
    }
    return 0;
}

static void run(const uint8_t *data, size_t size, int which)
{
    state s;
    negoex_error_info err;
    int rc;

    memset(&s, 0, sizeof s);
    s.in = data;
    s.len = size;
    if (which < 0)
        rc = negoex_pku2u_dissect_token(data, size, check_event, &s, &err);
    else
        rc = negoex_pku2u_dissect_metadata(data, size, (negoex_pku2u_metadata_kind)which, check_event, &s, &err);
    if (rc == 0) {
        CHECK(s.closed && s.depth == 0 && s.events >= 2);
    } else {
        CHECK(rc < 0 && err.code == rc && s.events == 0 && err.offset <= size && err.field != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, -1);
    run(data, size, NEGOEX_PKU2U_METADATA_ANY);
    run(data, size, NEGOEX_PKU2U_METADATA_INITIATOR);
    run(data, size, NEGOEX_PKU2U_METADATA_ACCEPTOR);
    return 0;
}
