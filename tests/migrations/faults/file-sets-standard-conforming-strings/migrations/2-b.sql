set standard_conforming_strings = off;
select 'a\';
