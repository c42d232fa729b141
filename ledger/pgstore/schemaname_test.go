package pgstore

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestSchemaNamesValidated: issue 10 #8. PostgreSQL truncates identifiers
// to 63 bytes, so two tenants' schema names sharing their first 63 bytes
// used to open one journal. Open refuses such names, and names PostgreSQL
// would read differently quoted or not, or keeps for itself, before it
// touches the database.
func TestSchemaNamesValidated(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	prefix := "rktest_" + strings.Repeat("x", 56) // 63 bytes
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(ctx) })
	drop := func() {
		_, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{prefix}.Sanitize()+" CASCADE")
		require.NoError(t, err)
	}
	drop()
	t.Cleanup(drop)

	for _, name := range []string{
		prefix + "_tenant_a", prefix + "_tenant_b", // 72 bytes, same first 63
		prefix + "y",
		"Tenant", "tenant-a", "tenant a", "1tenant", "pg_tenant", "information_schema",
		"tenant\x00", "ténant", `tenant"; DROP SCHEMA public; --`,
	} {
		s, err := Open(ctx, dsn, WithSchema(name))
		if err == nil {
			_ = s.Close()
		}
		require.ErrorIs(t, err, ErrInvalidSchema, "schema %q", name)
	}
	var n int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", prefix).Scan(&n))
	require.Zero(t, n, "nothing was created")

	// The longest name PostgreSQL keeps whole, and the other accepted forms.
	for _, name := range []string{prefix, "_tenant", "t2"} {
		if name != prefix {
			name = newSchemaNamed(t, name)
		}
		s, err := Open(ctx, dsn, WithSchema(name))
		require.NoError(t, err, "schema %q", name)
		require.NoError(t, s.Close())
	}
}

// newSchemaNamed returns a fresh schema name starting with base, dropped
// when t ends.
func newSchemaNamed(t *testing.T, base string) string {
	t.Helper()
	return base + "_" + strings.TrimPrefix(newSchema(t), "rktest_")
}
