package domain

import "context"

// PlansForCreate exposes the create's plan resolution to the external tests.
func (s *Service) PlansForCreate(ctx context.Context, caller Account, in CreateRequestInput) (Plans, error) {
	return s.plansForCreate(ctx, caller, in)
}

// SupportPlansUncounted is SupportPlans without incident counts, as a create sees them.
func (s *Service) SupportPlansUncounted(ctx context.Context, caller Account, productID, version string, portal Portal) (Plans, error) {
	return s.supportPlans(ctx, caller, productID, version, portal, false)
}

// Record exposes record (an event's outbox entry and sequencing) to the external tests.
func (s *Service) Record(ctx context.Context, e Event) { s.record(ctx, e) }
