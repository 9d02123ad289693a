package sandbox

import "sync"

// generate builds the whole data set for a seed. Each part draws from its
// own random stream, so the directory and each member are stable even if
// another part of the generator changes. Members are generated in parallel
// (their records are independent) and inserted in member order.
func generate(seed int64) *store {
	st := newStore(newRegistry())
	dir := buildDirectory(st, newRNG(seed, 1))
	members := planMembers(newRNG(seed, 2), dir)

	batches := make([]*batch, len(members))
	diagnosed := make([][]string, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		batches[i] = &batch{st: st}
		wg.Go(func() {
			g := newRNG(seed, 1000+uint64(m.seq))
			addPatient(batches[i], g, m)
			addCoverage(batches[i], m)
			b := newRecordBuilder(batches[i], g, m)
			b.build()
			diagnosed[i] = b.diagnosed
		})
	}
	wg.Wait()

	byMember := make(map[string][]string, len(members))
	for i, bt := range batches {
		for _, res := range bt.out {
			st.insert(res)
		}
		byMember[members[i].id] = diagnosed[i]
	}
	addGroups(st, members, byMember)
	st.finish()
	return st
}
