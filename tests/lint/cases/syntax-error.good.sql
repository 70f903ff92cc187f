SELECT 'terminated';
