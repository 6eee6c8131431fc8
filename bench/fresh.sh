# Sourced by the bench scripts: fresh databases for one measurement. Needs $admin (a PostgreSQL URL
# whose role may create databases) and $out (the results directory).

fresh_pg() { # a new, empty database; prints its URL
  psql "$admin" -qX -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
  echo "${admin%/*}/$1"
}

fresh_sqlite() { # a new, empty SQLite file; prints its URL
  rm -rf "$out/$1" && mkdir -p "$out/$1"
  echo "sqlite://$out/$1/esign.db"
}
