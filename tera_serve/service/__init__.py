"""The request pipeline: prepare → generate → parse → assemble. The only place pieces meet."""
